"""Statistics shared by the claims: bootstrap and Wilson intervals, AUROC, exact binomial
tests with Holm's correction, power-law slopes. numpy/scipy only (no torch).

Intervals are 95% unless stated; an interval that cannot be computed is NaN, never a
zero-width one (see bayesmatrix.results.verdicts: NaN gives no verdict)."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.stats import norm, rankdata

from bayesmatrix.errors import BayesmatrixError

# bootstrap resamples any option may ask for: beyond this the interval's Monte Carlo error is
# far below its width, and the work grows without bound (each resample refits or re-scores)
MAX_BOOTSTRAP = 10_000


def check_bootstrap(n: int, seconds_each: float, option: str = "--bootstrap") -> int:
    """Refuse a resample count below 0 or above MAX_BOOTSTRAP, saying what it would cost."""
    if n < 0 or n > MAX_BOOTSTRAP:
        hours = n * seconds_each / 3600
        cost = f" (about {hours:,.0f} hours here)" if hours >= 1 else ""
        raise BayesmatrixError(
            f"{option} must be between 0 and {MAX_BOOTSTRAP:,}, not {n:,}{cost}; 1,000 resamples "
            "give intervals whose Monte Carlo error is far below their width"
        )
    return n


def bootstrap_mean_ci(
    values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of values and a percentile bootstrap interval over them; the interval is NaN when
    it cannot be computed (fewer than 2 values or no resamples), never a zero-width one."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2 or n_boot < 1:
        return float(v.mean()) if len(v) else float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(len(v), size=(n_boot, len(v)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return (
        float(v.mean()),
        float(np.percentile(means, tail)),
        float(np.percentile(means, 100 - tail)),
    )


def log_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y on log x (the exponent of a power law y ~ x^slope)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return float("nan"), float("nan")
    z = norm.ppf(0.5 + level / 2)
    phat = successes / n
    centre = (phat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of scores for binary labels (Mann-Whitney U, ties count 1/2)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise BayesmatrixError("AUROC needs both right and wrong answers")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc_ci(
    scores: np.ndarray, labels: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """AUROC with a percentile bootstrap interval (resamples keeping both classes)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(len(s), size=len(s))
        if y[idx].all() or not y[idx].any():
            continue
        values.append(auroc(s[idx], y[idx]))
    return auroc(s, y), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def binomial_p(ones: int, trials: int, p: float) -> float:
    """Exact two-sided binomial test p-value of `ones` in `trials` at success probability p."""
    return float(stats.binomtest(int(ones), int(trials), float(np.clip(p, 0.0, 1.0))).pvalue)


def holm(pvalues: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down rejections at family-wise level alpha."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    reject = np.zeros(len(p), dtype=bool)
    for rank, i in enumerate(order):
        if p[i] > alpha / (len(p) - rank):
            break
        reject[i] = True
    return reject
