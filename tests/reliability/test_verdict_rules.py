"""Verdicts come from stated rules, never from rule order or from intervals that could not be
computed; each rule can come out every way."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.experiments.icl.analysis import POOLED, UPDATING, updating_verdict
from bayesmatrix.experiments.updating import ALPHA, DECAY_MARGIN, NO_UPDATE_KAPPA
from bayesmatrix.results.verdicts import Verdict, rule

NAN = math.nan


@pytest.mark.parametrize(
    ("lo", "hi", "kw", "expected"),
    [
        (0.2, 0.4, {"above": 0}, "supported"),
        (-0.4, -0.2, {"above": 0}, "not supported"),
        (-0.1, 0.1, {"above": 0}, "inconclusive"),
        (0.2, 0.4, {"below": 0.5}, "supported"),
        (0.6, 0.9, {"below": 0.5}, "not supported"),
        (0.3, 0.45, {"above": 0.5, "refute_at": 0.1}, "inconclusive"),  # the dead zone
        (0.01, 0.05, {"above": 0.5, "refute_at": 0.1}, "not supported"),
        (NAN, 0.4, {"above": 0}, None),
        (0.1, math.inf, {"above": 0}, None),
    ],
)
def test_rule(lo, hi, kw, expected):
    assert rule(lo, hi, **kw) == expected


def test_combination_does_not_depend_on_order():
    statuses = ["supported", "not supported", "inconclusive", None]
    import itertools

    for n in (1, 2, 3):
        for combo in itertools.product(statuses, repeat=n):
            outcomes = {
                Verdict.from_rules("c", "e", list(p)).status for p in itertools.permutations(combo)
            }
            assert len(outcomes) == 1, combo


def test_no_interval_no_verdict():
    v = Verdict.from_rules("c", "e", [rule(NAN, NAN, above=0), "supported"])
    assert v.status == "inconclusive" and "no interval could be computed" in v.evidence


def test_bootstrap_interval_is_nan_when_it_cannot_be_computed():
    assert all(math.isnan(x) for x in bootstrap_mean_ci(np.array([0.3]))[1:])
    assert all(math.isnan(x) for x in bootstrap_mean_ci(np.array([0.3, 0.5]), n_boot=0)[1:])
    mean, lo, hi = bootstrap_mean_ci(np.array([0.1, 0.2, 0.3, 0.4]))
    assert lo < mean < hi


def _row(**changes) -> pd.Series:
    """A pooled fit row as `analyse` writes it (bayes.updating.UpdatingFit fields), Bayesian
    by default, with `changes`."""
    row = {
        "model": "m", "task": "t", "condition": POOLED, "conditions": "flipped-0.25,flip-half",
        "readings": 360, "sequences": 15, "shots": 24, "constant_evidence": False,
        "sigma": 1.0, "rho": 0.0, "phi": 1.0, "kappa": 5.0, "kappa_lo": 3.0, "kappa_hi": 8.0,
        "kappa_identified": True, "decay": 1.0, "decay_lo": 0.95, "decay_hi": 1.0,
        "decay_identified": True, "kappa_discounted": 5.0, "lr_update": 80.0,
        "p_update": 1e-19, "lr_forget": 0.0, "p_forget": 1.0, "lr_material": 0.0,
        "p_material": 1.0, "r2": 0.5, "kappa_early": 5.0,
        "kappa_late": 5.2, "p_drift": 0.8, "label_mass_k0": 0.9,
    }  # fmt: skip
    return pd.Series({**row, **changes})


@pytest.mark.parametrize(
    ("changes", "expected", "because"),
    [
        ({}, "supported", "decay 1.000 [0.950, 1.000]"),
        ({"p_material": 0.003, "lr_material": 7.6, "p_forget": 1e-4, "lr_forget": 14.0,
          "decay": 0.8, "decay_lo": 0.7, "decay_hi": 0.88},
         "not supported", "forgetting faster than decay 0.9 explains the readings better"),
        # a refutation wins over every reason to abstain but constant evidence
        ({"p_material": 0.003, "p_update": 0.5}, "not supported", "forgetting faster"),
        # forgetting that the data show but shorter of the margin refutes nothing
        ({"p_forget": 0.001, "lr_forget": 9.5, "decay": 0.97, "decay_lo": 0.93},
         "supported", "any forgetting vs Beta-Bernoulli: LR 9.50, p 0.001"),
        ({"p_update": 0.2}, "inconclusive", "no measurable updating"),
        ({"decay_identified": False, "decay_lo": 0.02}, "inconclusive", "cannot identify"),
        ({"r2": -0.1}, "inconclusive", "worse than a constant"),
        ({"decay_lo": 0.85}, "inconclusive", "as fast as decay 0.850"),
        ({"decay_lo": 0.9}, "inconclusive", "the margin is 0.9"),  # the margin is strict
        ({"constant_evidence": True, "p_material": 0.001}, "inconclusive", "evidence is constant"),
    ],
)  # fmt: skip
def test_icl_updating_verdict(changes, expected, because):
    v = updating_verdict(_row(**changes))
    assert v.status == expected, v
    assert because in v.evidence
    assert v.rule == "icl.updating" and v.alpha == ALPHA and v.threshold == DECAY_MARGIN


def test_icl_verdict_says_when_kappa_is_no_measurement_and_warns_of_little_label_mass():
    v = updating_verdict(_row(p_drift=0.001, kappa_early=3.0, kappa_late=9.0, label_mass_k0=0.002))
    assert "NOT a measurement: kappa drifts: 3.0 on the early and 9.0 on the late" in v.evidence
    assert "WARNING: the label words carry only 0.0020" in v.evidence
    good = updating_verdict(_row())
    assert "NOT a measurement" not in good.evidence and "WARNING" not in good.evidence


def test_icl_thresholds_are_stated():
    assert ALPHA == 0.01 and DECAY_MARGIN == 0.9 and NO_UPDATE_KAPPA == 1e4
    assert "0.9" in UPDATING.sentence()


def test_estimates_show_bounds_missing_intervals_and_non_smooth_ones():
    from bayesmatrix.results.verdicts import estimate

    assert estimate(1e8, 52.0, 1e8, ".2f", bound=1e4) == "> 10^4 [52.00, > 10^4]"
    assert estimate(3.448, float("nan"), float("nan")) == "3.448 (no interval)"
    flagged = estimate(0.0268, 0.0270, 0.2021, ".4f")
    assert flagged.startswith("0.0268 [0.0270, 0.2021]") and "outside its bootstrap" in flagged
    # an estimate equal to an interval end up to rounding is inside it
    assert estimate(8 / 10008, 8 / (10000.00000000001 + 8), 8 / 10008) == "0.001 [0.001, 0.001]"
