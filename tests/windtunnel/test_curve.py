"""The training-curve fit: a power law recovered from a constructed curve, the steps to a
target against solving the law directly, and a clear error on too short a curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.optimize

from bayesmatrix import BayesmatrixError
from bayesmatrix.viz.windtunnel_plot import plot_training_curve
from bayesmatrix.windtunnel.curve import fit_curve


def _curve(exponent: float, noise: float, seed: int = 0) -> pd.DataFrame:
    step = np.arange(200, 20_001, 200)
    rng = np.random.default_rng(seed)
    kl = 3.0 * step**-exponent * np.exp(noise * rng.standard_normal(len(step)))
    return pd.DataFrame({"step": step, "seconds": step / 10, "loss": kl + 1.0, "kl_bits": kl})


def test_fit_recovers_a_power_law_and_its_interval_covers_it():
    covered = 0
    for seed in range(40):
        fit = fit_curve(_curve(0.4, noise=0.05, seed=seed))
        covered += fit.exponent_lo <= 0.4 <= fit.exponent_hi
    assert 34 <= covered <= 40  # a 95% interval: about 38 of 40
    exact = fit_curve(_curve(0.4, noise=0.0))
    assert exact.exponent == pytest.approx(0.4)
    assert exact.scale == pytest.approx(3.0)
    assert exact.r2 == pytest.approx(1.0)
    assert exact.first_step == 10_200  # the second half of the steps only
    assert fit_curve(_curve(0.4, noise=1.0)).r2 < 0.5


def test_steps_to_a_target_solve_the_law():
    fit = fit_curve(_curve(0.5, noise=0.01, seed=1))
    target = 1e-3
    steps, fast, slow = fit.steps_to(target)
    solved = scipy.optimize.brentq(lambda s: fit.predict(s) - target, 1, 1e12)
    assert steps == pytest.approx(solved, rel=1e-6)
    assert fast < steps < slow
    assert fit.steps_to(10.0) == (fit.last_step,) * 3  # already reached
    flat = fit_curve(_curve(0.0, noise=0.0))
    assert flat.steps_to(target)[0] == np.inf


def test_too_short_a_curve_is_refused_and_the_figure_draws_the_fit():
    with pytest.raises(BayesmatrixError, match="train longer"):
        fit_curve(_curve(0.4, 0.0).head(4))
    curve = _curve(0.4, noise=0.0)
    fit = fit_curve(curve)
    figure = plot_training_curve({"transformer": curve}, "hmm-incontext", fit, 1e-3)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[0] == "transformer"
    assert any(label.startswith("fit: step^-0.40") for label in labels)
    assert figure.axes[0].get_ylabel().startswith("KL")
