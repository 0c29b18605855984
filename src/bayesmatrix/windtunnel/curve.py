"""Training curves of the wind tunnels: a power law in steps fitted to the KL at the trained
positions, with its interval and R^2, and the steps it would take at that rate to reach a target
(the honest account of a run that stops short of one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from bayesmatrix.errors import BayesmatrixError


@dataclass(frozen=True)
class CurveFit:
    """KL ~ scale * step^-exponent on steps first_step..last_step: the exponent with a 95%
    t interval, and R^2 of the fit in log-log."""

    exponent: float
    exponent_lo: float
    exponent_hi: float
    scale: float
    r2: float
    first_step: int
    last_step: int

    def predict(self, steps: np.ndarray | float) -> np.ndarray | float:
        return self.scale * np.power(steps, -self.exponent)

    def steps_to(self, target: float) -> tuple[float, float, float]:
        """Steps to reach `target` if the fitted rate held from the last fitted step on: the
        point estimate and the range the exponent's interval gives (inf where it is <= 0)."""
        reached = float(self.predict(self.last_step))
        if target >= reached:
            return (float(self.last_step),) * 3

        def at(exponent: float) -> float:
            if exponent <= 0:
                return float("inf")
            return float(self.last_step * (reached / target) ** (1 / exponent))

        return at(self.exponent), at(self.exponent_hi), at(self.exponent_lo)


def fit_curve(curve: pd.DataFrame, column: str = "kl_bits", start: float = 0.5) -> CurveFit:
    """Least squares of log `column` on log step over the points after `start` of the run's
    steps (the early transient left out). Part of a late drop is the learning-rate decay of the
    run's cosine schedule, so the rate, and any extrapolation from it, is on the hopeful side."""
    data = curve[["step", column]].dropna()
    data = data[(data[column] > 0) & (data["step"] > start * curve["step"].max())]
    if len(data) < 3:
        raise BayesmatrixError(
            f"a training curve needs at least 3 points with positive {column} after {start:.0%} "
            "of the steps; train longer (a point every 200 steps)"
        )
    x, y = np.log(data["step"].to_numpy(float)), np.log(data[column].to_numpy(float))
    fit = scipy.stats.linregress(x, y)
    half = scipy.stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    return CurveFit(
        exponent=float(-fit.slope),
        exponent_lo=float(-fit.slope - half),
        exponent_hi=float(-fit.slope + half),
        scale=float(np.exp(fit.intercept)),
        r2=float(fit.rvalue**2),
        first_step=int(data["step"].min()),
        last_step=int(data["step"].max()),
    )
