"""Verdict calibration: the ICL claim run on learners by construction through its own code at
the test profile, the rates recounted by brute force, Wilson intervals found independently (the
roots of the score test), the targets' logic on rates whose answer is known, and the
shipped rates read back by rule id and claim version only."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from bayesmatrix.claims import get_claim
from bayesmatrix.report.calibration import (
    LEARNERS,
    calibration_runs,
    error_rates,
    markdown_table,
    right_answers,
    save_rates,
)
from bayesmatrix.results.rates import rule_calibration, rule_rates, rule_summary

LEARNERS_USED = ("bayesian-exact", "window-4", "ignorer")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return calibration_runs(
        ["icl"], "test", replicates=2, out=tmp_path_factory.mktemp("cal"), learners=LEARNERS_USED
    )


def test_every_calibrated_rule_is_read_on_every_learner(runs):
    rules = {rule.id for rule in get_claim("icl").calibration}
    assert set(runs["rule"]) == rules
    assert set(runs["learner"]) == set(LEARNERS_USED)
    # every learner and replicate gives each rule the same number of verdicts
    counts = runs.groupby(["rule", "learner", "replicate"]).size()
    assert counts.groupby("rule").nunique().eq(1).all()
    # each replicate is a fresh draw: the two replicates of a learner are saved apart
    assert set(runs["replicate"]) == {0, 1}


def test_rates_recount_the_verdicts(runs):
    rates = error_rates(runs)
    answers = right_answers()
    for r in rates.itertuples(index=False):
        mine = runs[(runs["rule"] == r.rule) & (runs["learner"] == r.learner)]
        assert r.n == len(mine)
        assert (None if pd.isna(r.right) else r.right) == answers[r.rule][r.learner]
        for status, key in (
            ("supported", "supported"),
            ("not supported", "not_supported"),
            ("inconclusive", "abstain"),
        ):
            k = int((mine["status"] == status).sum())
            assert getattr(r, key) == pytest.approx(k / len(mine))
            lo, hi = score_roots(k, len(mine))
            assert (getattr(r, key + "_lo"), getattr(r, key + "_hi")) == pytest.approx((lo, hi))
    assert markdown_table(rates).count("\n") == len(rates) + 1


def score_roots(k: int, n: int) -> tuple[float, float]:
    """The Wilson interval as the proportions the score test does not reject at 5%."""
    z, phat = norm.ppf(0.975), k / n

    def gap(p: float) -> float:
        return (phat - p) ** 2 - z**2 * p * (1 - p) / n

    lo = 0.0 if k == 0 else brentq(gap, 1e-12, min(phat, 1 - 1e-12))
    hi = 1.0 if k == n else brentq(gap, max(phat, 1e-12), 1 - 1e-12)
    return lo, hi


def synthetic(right_learner: str, statuses: list[str]) -> pd.DataFrame:
    """Runs of the icl updating rule on one learner with the given statuses."""
    rule = next(iter(get_claim("icl").calibration)).id
    return pd.DataFrame(
        {
            "claim": "icl",
            "rule": rule,
            "learner": right_learner,
            "replicate": range(len(statuses)),
            "status": statuses,
            "statement": "s",
        }
    )


@pytest.mark.parametrize(
    ("learner", "counts", "meets"),
    [
        ("bayesian-exact", {"supported": 200}, "yes"),  # 0/200 wrong: upper bound 1.9%
        ("bayesian-exact", {"supported": 170, "not supported": 30}, "no"),  # 15% > 5%
        ("bayesian-exact", {"supported": 19, "not supported": 1}, "cannot tell"),  # 5% of 20
        ("bayesian-exact", {"supported": 100, "inconclusive": 100}, "no"),  # abstains 50%
        ("window-4", {"not supported": 200}, "yes"),  # power 100%, lower bound 98%
        ("window-4", {"not supported": 100, "inconclusive": 100}, "no"),  # power 50%
        ("ignorer", {"supported": 10}, "not scored"),  # the icl rules state no answer
    ],
)
def test_targets(learner, counts, meets):
    statuses = [s for s, k in counts.items() for _ in range(k)]
    (row,) = error_rates(synthetic(learner, statuses)).itertuples(index=False)
    assert row.meets == meets


def test_a_rule_saying_supported_of_everything_misses_its_power(runs):
    doctored = error_rates(runs.assign(status="supported"))
    scored = doctored[doctored["right"] == "not supported"]
    assert len(scored) and (scored["meets"] == "no").all()


def test_shipped_rates_are_read_by_rule_and_claim_version(runs, tmp_path):
    path = save_rates(error_rates(runs), "test", 2, tmp_path / "calibration.json")
    claim = get_claim("icl")
    rule = next(iter(claim.calibration)).id
    rows = rule_rates(rule, claim.version, path)
    assert {r["learner"] for r in rows} == set(LEARNERS_USED)
    assert all(r["profile"] == "test" and r["replicates"] == 2 for r in rows)
    summary = rule_summary(rule, claim.version, path)
    assert summary.startswith("measured on learners by construction (test profile, 2 replicates")
    assert "window-4: 'not supported'" in summary
    record = rule_calibration(rule, claim.version, path)
    assert set(record["learners"]) == set(LEARNERS_USED)
    # another claim version, or no file: the rule is not calibrated
    assert rule_summary(rule, claim.version + 1, path) == ""
    assert rule_calibration(rule, claim.version + 1, path) == {}
    assert rule_rates(rule, claim.version, tmp_path / "missing.json") == []
    # a second measurement of one claim replaces its rows and keeps the other claims'
    rates = error_rates(runs)
    other = rates[rates["rule"] == rule].assign(claim="coin-flips", rule="coin-flips.stand-in")
    save_rates(other, "quick", 3, path)
    save_rates(rates[rates["learner"] == "window-4"], "quick", 5, path)
    (row,) = rule_rates(rule, claim.version, path)
    assert (row["learner"], row["replicates"]) == ("window-4", 5)
    kept = rule_rates("coin-flips.stand-in", get_claim("coin-flips").version, path)
    assert len(kept) == len(LEARNERS_USED)
    assert set(LEARNERS_USED) <= set(LEARNERS)


def test_the_central_icl_rule_reads_no_bootstrap(tmp_path):
    """The shipped icl.updating rates are measured with the scaling law's bootstrap off
    (benchmarks/verdict_calibration.py --set bootstrap=0): the rule's verdict is the same,
    word for word, with it on; the law's intervals are not."""
    from bayesmatrix.claims import run_claim, verdicts_of
    from bayesmatrix.models.loading import Loader

    claim = get_claim("icl")
    ref = [LEARNERS["window-8"] + "&seed=3"]
    found = {}
    for boot in (0, 20):
        results = run_claim(
            claim, ref, claim.configure("test", bootstrap=boot), tmp_path / f"b{boot}", Loader()
        )
        found[boot] = {v.rule: v for v in verdicts_of(results)}
    assert found[0]["icl.updating"] == found[20]["icl.updating"]
    assert found[0]["icl.law"].evidence != found[20]["icl.law"].evidence


def test_a_study_of_one_rule_keeps_the_other_rules_rates(runs, tmp_path):
    path = tmp_path / "calibration.json"
    rates = error_rates(runs)
    save_rates(rates, "test", 2, path)
    updating = rates[rates["rule"] == "icl.updating"]
    save_rates(updating, "test", 2, path, overrides={"bootstrap": 0})
    version = get_claim("icl").version
    law = rule_rates("icl.law", version, path)
    assert len(law) == len(LEARNERS_USED) and all(not r["overrides"] for r in law)
    rows = rule_rates("icl.updating", version, path)
    assert len(rows) == len(LEARNERS_USED)
    assert all(r["overrides"] == {"bootstrap": 0} for r in rows)
    assert "(test profile, bootstrap=0, 2 replicates" in rule_summary("icl.updating", version, path)
