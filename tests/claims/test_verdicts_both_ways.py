"""Verdicts of constructed results that say more than "both ways": the matrix's mixture rule
knows a worse matrix cannot help, and the rows rule's threshold is the one it states."""

from __future__ import annotations

from bayesmatrix.claims import get_claim
from bayesmatrix.experiments.rows import TOLERANCE


def test_rows_verdict_follows_its_threshold():
    good, bad = get_claim("rows").examples()
    assert good.frame["max_abs_diff"].max() < TOLERANCE < bad.frame["max_abs_diff"].max()
    assert [good.verdicts()[0].status, bad.verdicts()[0].status] == ["supported", "not supported"]


def test_windtunnel_verdicts_go_both_ways():
    good, bad = get_claim("windtunnel").examples()
    assert [v.status for v in good.verdicts()] == ["supported"] * 2
    assert [v.status for v in bad.verdicts()] == ["not supported"] * 2


def test_matrix_verdicts_go_both_ways():
    lm_better, matrix_better = get_claim("matrix").examples()
    good = [v.status for v in lm_better.verdicts()]
    bad = [v.status for v in matrix_better.verdicts()]
    assert good[:2] == ["supported", "supported"] and bad[:2] == ["not supported"] * 2
    # mixing in a matrix that is worse everywhere cannot help; one that is better does
    assert good[2] != "supported" and bad[2] == "supported"


def test_continuity_and_entropy_verdicts_go_both_ways():
    good, bad = get_claim("continuity").examples()
    assert [v.status for v in good.verdicts()] == ["supported"] * 3
    assert [v.status for v in bad.verdicts()] == ["not supported"] * 3
    falls, rises = get_claim("entropy").examples()
    assert [v.status for v in falls.verdicts()] == ["supported"]
    assert [v.status for v in rises.verdicts()] == ["not supported"]
