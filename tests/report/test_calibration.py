"""Verdict calibration at small settings: the rules say "supported" of the exact Bayesian
learner and not of the forgetting and ignoring learners (read through the claims' own code);
a rule that said "supported" of everything fails the same checks. Coin flips run at the quick
profile: with the 8 flips of the test profile a window-4 learner passes for Bayesian (the
docs' table shows it)."""

from __future__ import annotations

import pandas as pd
import pytest

from bayesmatrix.report.calibration import (
    EXPECTED,
    calibration_runs,
    error_rates,
    markdown_table,
    right_answer,
)

CLAIMS = ("coin-flips", "martingale-paths")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return calibration_runs(CLAIMS, "quick", replicates=2, out=tmp_path_factory.mktemp("cal"))


def failures(rates: pd.DataFrame) -> list[str]:
    """The (rule, learner) pairs where a wrong verdict came up at all."""
    bad = rates[rates["wrong_rate"] > 0]
    return [f"{r.claim}/{r.rule}/{r.learner}: {r.wrong_rate:.0%}" for r in bad.itertuples()]


def test_rules_separate_the_learners(runs):
    rates = error_rates(runs)
    assert set(rates["learner"]) == {"bayesian", "recency", "ignorer"}
    assert set(zip(rates["claim"], rates["rule"], strict=True)) == {
        k for k in EXPECTED if k[0] in CLAIMS
    }
    assert (rates["n"] == 2).all()
    assert failures(rates) == []
    # the non-Bayesian learners are caught by the updating rules, not merely left inconclusive
    caught = runs[
        (runs["learner"] == "recency") & (runs["rule"] == "like the Beta-Binomial posterior")
    ]
    assert (caught["status"] == "not supported").all()
    table = markdown_table(rates)
    assert table.count("\n") == len(rates) + 1


def test_a_rule_saying_supported_of_everything_fails(runs):
    doctored = runs.assign(status="supported")
    bad = failures(error_rates(doctored))
    assert any("recency" in b for b in bad) and any("ignorer" in b for b in bad)
    assert all("bayesian" not in b for b in bad)


def test_constant_evidence_makes_any_learner_exchangeable():
    assert right_answer("icl-order", "exchangeable", "regular", "recency") == "supported"
    assert right_answer("icl-order", "exchangeable", "flipped-0.3", "recency") == "not supported"


def test_the_report_cites_each_rules_measured_rates(runs, tmp_path):
    from bayesmatrix.report.calibration import rule_summary, save_rates

    path = save_rates(error_rates(runs), "quick", 2, tmp_path / "calibration.json")
    line = rule_summary("coin-flips", path)
    assert "(quick profile, 2 replicates)" in line
    wrong = runs[(runs["claim"] == "coin-flips") & (runs["learner"] == "recency")]
    wrong = wrong[wrong["rule"] == "like the Beta-Binomial posterior"]
    count = int((wrong["status"] == "supported").sum())
    rule = "'like the Beta-Binomial posterior' (quick profile, 2 replicates): "
    assert rule + "bayesian learner wrongly 'not supported' 0/2" in line
    assert f"recency learner wrongly 'supported' {count}/2" in line
    assert rule_summary("rows", path) == ""
    assert rule_summary("coin-flips", tmp_path / "missing.json") == ""
    # a second measurement of one claim replaces that claim's rows and keeps the others'
    rates = error_rates(runs)
    save_rates(rates[rates["claim"] == "coin-flips"], "full", 9, path)
    assert "(full profile, 9 replicates)" in rule_summary("coin-flips", path)
    assert "(quick profile, 2 replicates)" in rule_summary("martingale-paths", path)
