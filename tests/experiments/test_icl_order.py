"""Order effects (Chlon et al.): an exact Beta-Bernoulli learner shows none, a recency learner
shows one that averaging does not remove; the LM's readings against separate prompts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.bayes.stats import log_slope
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.order import (
    OrderResult,
    averaging_curve,
    order_cell,
    order_gaps,
    ordering_kappas,
    ordering_readings,
)
from bayesmatrix.experiments.icl.sweep import Condition
from bayesmatrix.experiments.icl.synthetic import count_learner
from bayesmatrix.experiments.icl.synthetic import synthetic_orderings as synthetic
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models.loading import Preloaded
from tests.icl_prompts import prompt_before_last_label

LABELS = ("a", "b")
SENTIMENT = get_task("sentiment")


def test_exact_learner_has_no_order_effect():
    readings = synthetic(decay=1.0)
    gaps = order_gaps(readings)
    assert (gaps["gap_p"] == 0).all() and (gaps["gap_bits"] < 1e-12).all()
    # the query predictive is the Beta(1,1) posterior mean from the counts, in every ordering
    top = readings[(readings["n"] == 32) & (readings["seed"] == 0)]
    rng = np.random.default_rng(0)
    ones = sum(rng.random() < 0.7 for _ in range(32))
    assert np.allclose(top["p_query"], (ones + 1) / 34)
    (verdict,) = OrderResult(readings, bootstrap=50).verdicts()
    assert verdict.status == "supported" and "no order effect" in verdict.evidence
    # Beta(1, 1) is prior mean 1/2 with 2 pseudo-counts, recovered in every ordering
    kappas = ordering_kappas(readings, bootstrap=20)
    np.testing.assert_allclose(kappas["kappa"], 2.0, rtol=1e-3)


def test_recency_learner_is_not_exchangeable_even_after_averaging():
    readings = synthetic(decay=0.6)
    gaps = order_gaps(readings)
    assert (gaps.groupby("n")["gap_p"].mean() > 0.03).all()
    (verdict,) = OrderResult(readings, bootstrap=200).verdicts()
    assert verdict.status == "not supported", verdict.evidence


def test_gaps_against_hand_computation():
    readings = pd.DataFrame(
        {
            "model": "m", "task": "t", "condition": "c", "seed": 0, "n": 4,
            "ordering": [0, 1, 2], "p_query": [0.2, 0.5, 0.8], "code_bits": [1.0, 1.0, 2.5],
        }
    )  # fmt: skip
    (row,) = order_gaps(readings).itertuples()
    assert row.p_query_mean == pytest.approx(0.5)
    assert row.gap_p == pytest.approx((0.3 + 0 + 0.3) / 3)
    assert row.spread_p == pytest.approx(np.std([0.2, 0.5, 0.8], ddof=1))
    assert row.gap_bits == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_averaging_curve_matches_independent_draws():
    rng = np.random.default_rng(3)
    k_all, seeds = 16, 400
    readings = pd.DataFrame(
        {
            "model": "m", "task": "t", "condition": "c", "n": 8,
            "seed": np.repeat(np.arange(seeds), k_all),
            "ordering": np.tile(np.arange(k_all), seeds),
            "p_query": rng.normal(0.5, 0.1, seeds * k_all),
        }
    )  # fmt: skip
    curve = averaging_curve(readings)
    assert list(curve["k"]) == [1, 2, 4, 8]
    expected = 0.1 * curve["expected"].to_numpy()  # sd 0.1 times the finite-population factor
    np.testing.assert_allclose(curve["spread"], expected, rtol=0.08)
    assert log_slope(np.array([1, 4]), np.array([1.0, 0.5])) == pytest.approx(-0.5)


def test_bad_inputs():
    demos = [("x", "a")] * 4
    with pytest.raises(BayesmatrixError, match="at least 2 orderings"):
        ordering_readings(count_learner(1.0), LABELS, demos, ("q", "a"), (2,), orderings=1)
    with pytest.raises(BayesmatrixError, match="ns must lie"):
        ordering_readings(count_learner(1.0), LABELS, demos, ("q", "a"), (8,))


@pytest.mark.slow
def test_lm_readings_equal_separate_prompts(smollm2):
    frame = order_cell(smollm2, SENTIMENT, Condition("regular"), seed=2, ns=(3,), orderings=3)
    assert len(frame) == 3 and frame["p_query"].between(0, 1).all()
    rng = np.random.default_rng([2, 2024])
    order = rng.permutation(len(SENTIMENT.examples))[:4]
    demos = [SENTIMENT.examples[i] for i in order]
    words = [" " + SENTIMENT.label_words[y] for y in SENTIMENT.labels]
    t = SENTIMENT.labels.index(demos[3][1])
    perm_rng = np.random.default_rng([2, 11])
    for o in range(3):
        perm = np.arange(3) if o == 0 else perm_rng.permutation(3)
        head = prompt_before_last_label(SENTIMENT, [demos[i] for i in perm] + [demos[3]])
        probs = smollm2.next_token_probs(head, words)["prob_renormalised"].to_numpy()
        assert frame.loc[o, "p_query"] == pytest.approx(probs[t], abs=1e-4)


@pytest.mark.slow
def test_claim_runs_saves_reloads_and_resumes(smollm2, tmp_path):
    from bayesmatrix.claims import get_claim, run_claim, verdicts_of
    from bayesmatrix.results.store import MARKER

    claim = get_claim("icl-order")
    settings = claim.configure(
        "full", conditions=["regular"], seeds=2, ns=[2, 4], orderings=2, bootstrap=20
    )
    (result,) = run_claim(claim, ["smollm2-135m"], settings, tmp_path, Preloaded(smollm2))
    assert len(result.readings) == 2 * 2 * 2  # seeds x ns x orderings
    (verdict,) = verdicts_of([result])
    assert "exchangeable after averaging" in verdict.statement
    cells = sorted((tmp_path / "cells").rglob("*.parquet"))
    stamps = [c.stat().st_mtime_ns for c in cells]
    cells[0].unlink()  # a sweep killed after one cell: only the missing one is recomputed
    (tmp_path / MARKER).unlink()  # ... before its result was marked finished
    (again,) = run_claim(claim, ["smollm2-135m"], settings, tmp_path, Preloaded(smollm2))
    pd.testing.assert_frame_equal(again.readings, result.readings)
    assert cells[0].is_file() and cells[1].stat().st_mtime_ns == stamps[1]
    reloaded = OrderResult.load(tmp_path)
    assert [str(v) for v in reloaded.verdicts()] == [str(verdict)]
    (figure,) = claim.draw([again], ["smollm2-135m"], "full", settings)
    assert figure.command.startswith(
        "bayesmatrix run icl-order --model smollm2-135m --profile full -s "
    )
