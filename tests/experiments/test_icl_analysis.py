"""ICL analysis on synthetic sweeps whose generating learner is known: a Bayesian learner is
supported with its kappa recovered, a forgetting learner is not supported, a fixed prior and
constant evidence are inconclusive (the verdict comes out every way), and model comparison
goes both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.experiments.icl.analysis import POOLED, IclAnalysis, analyse
from bayesmatrix.experiments.icl.synthetic import synthetic_cells as synthetic


def test_bayesian_curves_recover_kappa_and_are_supported(tmp_path):
    analysis = analyse(synthetic("beta-bernoulli", kappa=6.0), bootstrap=0)
    pooled = analysis.fits.set_index("condition").loc[POOLED]
    assert pooled["kappa_lo"] < 6.0 < pooled["kappa_hi"]
    (verdict,) = analysis.updating_verdicts()
    assert verdict.status == "supported", verdict
    assert verdict.rule == "icl.updating" and verdict.lo > 0.9 and verdict.direction == "above"
    loaded = IclAnalysis.load(analysis.save(tmp_path))
    assert [v.status for v in loaded.updating_verdicts()] == ["supported"]
    pd.testing.assert_frame_equal(loaded.fits, analysis.fits)
    # the fitted curve in `curves` is the Beta-Bernoulli prediction averaged over seeds
    c = analysis.curves
    assert np.abs(c["bayes_fit"] - c["p_true_mean"]).mean() < 0.05


def test_forgetting_curves_are_not_reported_as_bayesian():
    analysis = analyse(synthetic("recency", kappa=3.0, decay=0.6), bootstrap=0)
    (verdict,) = analysis.updating_verdicts()
    assert verdict.status == "not supported", verdict
    assert verdict.lo < 0.6 < verdict.hi and verdict.p_value < 0.01


def test_a_fixed_prior_and_constant_evidence_are_inconclusive():
    """A model that never moves from its zero-shot prior shows no updating to read; under
    constant evidence (every label true) no reading can separate forgetting from updating,
    whichever learner made it."""
    flat = analyse(synthetic("beta-bernoulli", kappa=1e7), bootstrap=0).updating_verdicts()[0]
    assert flat.status == "inconclusive" and "no measurable updating" in flat.evidence
    for learner in ("beta-bernoulli", "recency"):
        frame = synthetic(learner, kappa=3.0, conditions=["regular"])
        (verdict,) = analyse(frame, bootstrap=0).updating_verdicts()
        assert verdict.status == "inconclusive" and "evidence is constant" in verdict.evidence


@pytest.mark.parametrize(
    ("small_kappa", "large_kappa", "expected"),
    [(40.0, 3.0, "supported"), (3.0, 40.0, "not supported")],
)
def test_model_comparison_can_go_either_way(small_kappa, large_kappa, expected):
    frame = pd.concat(
        [
            synthetic("beta-bernoulli", "small", 100, small_kappa, seed=1),
            synthetic("beta-bernoulli", "large", 300, large_kappa, seed=2),
        ]
    )
    (row,) = analyse(frame, bootstrap=0).compare_models().to_dict("records")
    assert (row["smaller"], row["larger"]) == ("small", "large")
    assert row["larger_updates_faster"] == expected, row


def test_model_comparison_needs_kappas_that_are_measurements():
    """The case the intervals alone call supported (kappa 3 vs 40) turns inconclusive when
    the larger model's kappa is no measurement (here: its fit worse than a constant)."""
    frame = pd.concat(
        [
            synthetic("beta-bernoulli", "small", 100, 40.0, seed=1),
            synthetic("beta-bernoulli", "large", 300, 3.0, seed=2),
        ]
    )
    analysis = analyse(frame, bootstrap=0)
    assert analysis.compare_models()["larger_updates_faster"].tolist() == ["supported"]
    large = (analysis.fits["model"] == "large") & (analysis.fits["condition"] == POOLED)
    analysis.fits.loc[large, "r2"] = -0.1
    (verdict,) = analysis.comparison_verdicts()
    assert verdict.status == "inconclusive" and "R^2 -0.10" in verdict.evidence
