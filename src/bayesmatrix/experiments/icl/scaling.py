"""A Bayesian scaling law for ICL curves (Arora et al. 2024, arXiv 2410.16531), compared by
held-out error with a power law and with the Beta-Bernoulli learner.

The curve is the LM's probability of the demonstrated (shown) label after n demonstrations,
averaged over seeds. The law, with two hypotheses (the demonstrated task and a competitor):
    y(n) = sum_m w_m(n) P_m,   w_m(n) proportional to rho_m P_m^(K n),
where rho is the prior on the demonstrated task, P_1 > P_2 the per-example probabilities under
each hypothesis and K the per-example efficiency (K < 1: an example counts as less than one).
The power law: y(n) = c - a (n + 1)^(-alpha). Each is fitted to the first 75% of the shots and
judged on the rest (extrapolation, as scaling laws are used); intervals come from a bootstrap
over seeds (the whole fit repeated on resampled seeds).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit

from bayesmatrix.results.verdicts import Rule

FIT_SHARE = 0.75
# the law has 4 parameters: it is fitted only to more shots than that, and judged on at least one
MIN_FIT_SHOTS = 5
# held-out RMSE differences below this (probability units) count as ties
TIE_RMSE = 0.005
LAW = Rule(
    "the held-out RMSE of the Bayesian law minus the power law's", below=TIE_RMSE, id="icl.law"
)
EPS = 1e-6


def bayesian_law(n: np.ndarray, rho: float, p1: float, p2: float, k: float) -> np.ndarray:
    """Posterior-weighted per-example probability after n examples (computed in log space)."""
    n = np.asarray(n, dtype=float)
    log_w1 = np.log(rho) + k * n * np.log(p1)
    log_w2 = np.log1p(-rho) + k * n * np.log(p2)
    w1 = expit(log_w1 - log_w2)
    return w1 * p1 + (1 - w1) * p2


def power_law(n: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    """c - a (n + 1)^(-alpha)."""
    return c - a * (np.asarray(n, dtype=float) + 1) ** (-alpha)


def _bayes_params(theta: np.ndarray) -> tuple[np.ndarray, ...]:
    """(rho, P1, P2, K) of parameter vectors theta [..., 4] (vectorised over leading axes)."""
    t = np.clip(np.moveaxis(np.asarray(theta, dtype=float), -1, 0), -30, 30)
    rho = np.clip(expit(t[0]), EPS, 1 - EPS)
    p1 = np.clip(expit(t[1]), EPS, 1 - EPS)
    p2 = np.maximum(p1 * expit(t[2]), EPS)  # P_2 < P_1: the demonstrated task is the likelier
    return rho, p1, p2, np.exp(np.clip(t[3], -10, 7))


def _power_params(theta: np.ndarray) -> tuple[np.ndarray, ...]:
    """(c, a, alpha) of parameter vectors theta [..., 3] (vectorised over leading axes)."""
    t = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
    return expit(t[0]), t[1], np.exp(np.clip(t[2], -10, 5))


def _sig(x: float) -> float:
    """The logistic function of a float, without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _bayes_scalar(t: np.ndarray) -> tuple[float, ...]:
    """_bayes_params of one parameter vector, in scalar arithmetic (the fits call it tens of
    thousands of times: numpy's per-call overhead dominated)."""
    t0, t1, t2 = (min(max(float(x), -30.0), 30.0) for x in t[:3])
    rho = min(max(_sig(t0), EPS), 1 - EPS)
    p1 = min(max(_sig(t1), EPS), 1 - EPS)
    p2 = max(p1 * _sig(t2), EPS)
    return rho, p1, p2, math.exp(min(max(float(t[3]), -10.0), 7.0))


def _bayes_jacobian(n: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """d bayesian_law(n) / d theta [len(n), 4] (zero where a parameter is clipped)."""
    t = [float(x) for x in theta]
    rho, p1, p2, k = _bayes_scalar(theta)
    s2 = _sig(min(max(t[2], -30.0), 30.0))
    log_ratio = math.log(p1) - math.log(p2)
    w1 = expit(math.log(rho) - math.log1p(-rho) + k * n * log_ratio)
    live = np.array([abs(t[0]) < 30 and EPS < rho < 1 - EPS, abs(t[1]) < 30 and EPS < p1 < 1 - EPS,
                     abs(t[2]) < 30 and p2 > EPS, -10 < t[3] < 7], dtype=float)  # fmt: skip
    dw = w1 * (1 - w1)
    d_p1 = np.array([0.0, p1 * (1 - p1), 0.0, 0.0])
    d_p2 = np.array([0.0, p2 * (1 - p1), p2 * (1 - s2), 0.0]) if p2 > EPS else np.zeros(4)
    d_logit = np.empty((len(n), 4))
    d_logit[:, 0], d_logit[:, 1] = 1.0, 0.0
    d_logit[:, 2], d_logit[:, 3] = -k * n * (1 - s2), k * n * log_ratio
    jac = d_p2 + (dw * (p1 - p2))[:, None] * d_logit + w1[:, None] * (d_p1 - d_p2)
    return jac * live


def _power_scalar(t: np.ndarray) -> tuple[float, ...]:
    """_power_params of one parameter vector, in scalar arithmetic."""
    return _sig(float(t[0])), float(t[1]), math.exp(min(max(float(t[2]), -10.0), 5.0))


def _power_jacobian(n: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """d power_law(n) / d theta [len(n), 3] (zero where alpha's log is clipped)."""
    c, a, alpha = _power_scalar(theta)
    base = (n + 1.0) ** (-alpha)
    live = float(-10 < float(theta[2]) < 5)
    jac = np.empty((len(n), 3))
    jac[:, 0], jac[:, 1], jac[:, 2] = c * (1 - c), -base, a * base * np.log(n + 1.0) * alpha * live
    return jac


def _grid(*axes: Sequence[float] | np.ndarray) -> np.ndarray:
    """Every combination of the axes' values, one row per start."""
    return np.array(list(itertools.product(*axes)), dtype=float)


LAWS: dict[str, tuple[Callable, Callable, np.ndarray, tuple[str, ...]]] = {
    "bayesian-law": (
        bayesian_law,
        _bayes_params,
        _grid(
            np.linspace(-6, 6, 7),
            np.linspace(-2, 5, 8),
            np.linspace(-4, 4, 5),
            np.linspace(-2, 4, 7),
        ),
        ("rho", "p1", "p2", "K"),
    ),
    "power-law": (
        power_law,
        _power_params,
        _grid(np.linspace(-3, 4, 8), np.linspace(-1, 1, 9), np.linspace(-4, 2, 7)),
        ("c", "a", "alpha"),
    ),
}
JACOBIANS = {"bayesian-law": _bayes_jacobian, "power-law": _power_jacobian}
SCALARS = {"bayesian-law": _bayes_scalar, "power-law": _power_scalar}
POLISHED = 4  # the best grid points each refined by least squares


# weight of a pull of the parameters toward the first start, added to the squared error: far
# below the fits' errors (1e-4 or more), it decides only directions the data leave flat,
# where the optimiser would otherwise stop wherever float noise in the data led it
TIE_BREAK = 1e-8


def fit_law(name: str, n: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], Callable]:
    """Least-squares fit of a law to (n, y): the squared error on a grid of parameters, then
    the best POLISHED grid points refined. These laws have several local minima; a few fixed
    starts found the global one only on some data, so which minimum a fit reported (and a
    bootstrap percentile over fits) could move under float noise in the data."""
    law, to_params, grid, names = LAWS[name]
    jacobian, scalar = JACOBIANS[name], SCALARS[name]
    reference, pull = np.zeros(grid.shape[1]), np.sqrt(TIE_BREAK)
    n = np.asarray(n, dtype=float)
    eye = pull * np.eye(grid.shape[1])

    def residuals(t: np.ndarray) -> np.ndarray:
        return np.concatenate([law(n, *scalar(t)) - y, pull * (t - reference)])

    def jac(t: np.ndarray) -> np.ndarray:
        return np.vstack([jacobian(n, t), eye])

    tolerances = {"xtol": 1e-15, "ftol": 1e-15, "gtol": 1e-15}
    on_grid = law(n[None, :], *(v[:, None] for v in to_params(grid))) - y
    costs = (on_grid**2).sum(axis=1) + TIE_BREAK * (grid**2).sum(axis=1)
    best = None
    for start in grid[np.argsort(costs, kind="stable")[:POLISHED]]:
        fit = least_squares(residuals, start, jac=jac, method="lm", **tolerances)
        if best is None or fit.cost < best.cost:
            best = fit
    # the pull decided the flat directions; the exact least-squares fit from there removes
    # its bias (~1e-7) in the directions the data determine
    assert best is not None  # the starts are never empty
    exact = least_squares(
        lambda t: law(n, *scalar(t)) - y, best.x,
        jac=lambda t: jacobian(n, t), method="lm", **tolerances,
    )  # fmt: skip
    params = tuple(float(v) for v in to_params(exact.x))
    return dict(zip(names, params, strict=True)), lambda m: law(m, *params)


def _bb_curve(shown_p: np.ndarray, agree: np.ndarray, prior: np.ndarray, cut: int) -> np.ndarray:
    """The Beta-Bernoulli learner fitted on the first `cut` shots (per seed, binary), its
    predicted probability of the shown label averaged over seeds."""
    from bayesmatrix.bayes import BetaBernoulliLearner

    q_true = np.where(agree == 1, shown_p, 1 - shown_p)
    learner = BetaBernoulliLearner(prior[:, :cut]).fit(
        np.clip(q_true[:, :cut], EPS, 1 - EPS), agree[:, :cut], bootstrap=0
    )
    pred_true = BetaBernoulliLearner(prior, learner.kappa).predict(agree)
    return np.where(agree == 1, pred_true, 1 - pred_true).mean(axis=0)


def fit_split(shots: int) -> int | None:
    """How many of `shots` the laws are fitted to (the rest are held out); None when there are
    too few shots to fit the law's parameters and keep one shot out."""
    cut = max(3, int(np.ceil(FIT_SHARE * shots)))
    return cut if cut >= MIN_FIT_SHOTS and shots - cut >= 1 else None


def scaling_fits(
    shown_p: np.ndarray,
    agree: np.ndarray,
    prior: np.ndarray,
    binary: bool,
    bootstrap: int = 100,
    seed: int = 0,
) -> dict[str, dict[str, float]] | None:
    """Per law (and 'beta-bernoulli' for binary tasks): fitted parameters with 95% bootstrap
    intervals, R^2 on the fitted shots, held-out RMSE on the last 25% with its interval, and
    the held-out RMSE difference Bayesian law minus power law with its interval. None when
    there are too few shots (see fit_split)."""
    seeds, t = shown_p.shape
    cut = fit_split(t)
    if cut is None:
        return None
    n = np.arange(t)

    def one(rows: np.ndarray) -> dict[str, dict[str, float]]:
        y = shown_p[rows].mean(axis=0)
        out = {}
        for name in LAWS:
            params, curve = fit_law(name, n[:cut], y[:cut])
            fitted = curve(n)
            ss_tot = max(float(((y[:cut] - y[:cut].mean()) ** 2).sum()), 1e-12)
            r2 = 1 - float(((fitted[:cut] - y[:cut]) ** 2).sum()) / ss_tot
            rmse = float(np.sqrt(((fitted[cut:] - y[cut:]) ** 2).mean()))
            out[name] = {**params, "r2": r2, "heldout_rmse": rmse}
        if binary:
            bb = _bb_curve(shown_p[rows], agree[rows], prior[rows], cut)
            rmse = float(np.sqrt(((bb[cut:] - y[cut:]) ** 2).mean()))
            out["beta-bernoulli"] = {"heldout_rmse": rmse}
        return out

    point = one(np.arange(seeds))
    rng = np.random.default_rng(seed)
    draws = [
        one(np.asarray(rng.integers(seeds, size=seeds)))
        for _ in range(bootstrap if seeds > 1 else 0)
    ]
    for name, values in point.items():
        for key in list(values):
            samples = [d[name][key] for d in draws]
            lo, hi = np.percentile(samples, [2.5, 97.5]) if len(samples) > 1 else (np.nan, np.nan)
            values[f"{key}_lo"], values[f"{key}_hi"] = float(lo), float(hi)
    diff = [d["bayesian-law"]["heldout_rmse"] - d["power-law"]["heldout_rmse"] for d in draws]
    gap = point["bayesian-law"]["heldout_rmse"] - point["power-law"]["heldout_rmse"]
    lo, hi = np.percentile(diff, [2.5, 97.5]) if len(diff) > 1 else (np.nan, np.nan)
    point["bayesian-law"] |= {"rmse_gap": gap, "rmse_gap_lo": float(lo), "rmse_gap_hi": float(hi)}
    point["shots"] = {"fit": float(cut), "heldout": float(t - cut)}
    return point


def scaling_frame(key: Mapping[str, object], fits: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per law for a (model, task, condition) key."""
    shots = fits["shots"]
    rows = [
        {**key, "law": name, "fit_shots": shots["fit"], "heldout_shots": shots["heldout"], **v}
        for name, v in fits.items()
        if name != "shots"
    ]
    return pd.DataFrame(rows)
