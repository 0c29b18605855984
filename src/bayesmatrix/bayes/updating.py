"""Is a curve of predictive probabilities Bayesian updating? Three nested learners of a binary
outcome, fitted by likelihood, compared by likelihood-ratio tests with boundary-correct nulls.

Readings: q[s, t], the observed P(outcome = 1) before outcome t of sequence s (an LM's
probability that the next demonstration's label is the true one); m[s, t], the prior mean
(its zero-shot reading of that input); o[s, t], the outcomes (1: the shown label agreed).

Learners, each nesting the one before:
- fixed: p_t = m_t (a prior that never moves: kappa infinite);
- Beta-Bernoulli (the paper's): p_t = (kappa m_t + sum_{i<t} o_i) / (kappa + t);
- discounted: p_t = (kappa m_t + sum_{i<t} d^(t-1-i) o_i) / (kappa + sum_{i<t} d^(t-1-i)),
  which forgets (0 < d < 1) and is Beta-Bernoulli at d = 1.

Likelihood: logit(q) = logit(p_t) + e, e ~ N(0, sigma^2), sigma profiled out, so the
log-likelihood is -n/2 log(RSS / n) up to a constant. Readings of one sequence come from
overlapping contexts and their errors are correlated: the lag-1 autocorrelation rho of the
residuals (under the richest learner) inflates the likelihood-ratio statistics' scale by
phi = (1 + rho) / (1 - rho) (the long-run variance of an AR(1) error), and every statistic
is divided by phi (never by less than 1).

Tests (a parameter on the boundary of its space: the null distribution is the chi-bar-square
mixture 1/2 chi2_0 + 1/2 chi2_1, Self & Liang 1987):
- updating: Beta-Bernoulli against fixed (kappa = infinity is the boundary);
- forgetting: discounted against Beta-Bernoulli (d = 1 is the boundary);
- material forgetting: the decay below MARGIN against any decay at or above it (the profile
  likelihood ratio against the best decay in [MARGIN, 1]; a one-sided test at an interior
  point, with the same mixture null at the point). A misspecified Bayesian learner (a noisy
  zero-shot reading in place of its prior, say) fits a decay a little under 1 whose test
  against d = 1 rejects more often as readings accumulate; this test asks whether the memory
  is shorter than 1 / (1 - MARGIN) observations, which such a learner's is not;
- drift: one kappa against separate kappas for the early and late halves (chi2_1).
Intervals: profile likelihood (the set of values whose statistic stays below the 95% chi2_1
quantile), ends found by root finding, so they move smoothly with the readings; an interval
that spans the whole searched range means the design cannot identify the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, logit
from scipy.stats import chi2

from bayesmatrix.errors import BayesmatrixError

CLIP = 1e-4  # readings are kept inside [CLIP, 1 - CLIP] before the logit
LOG_KAPPA = (np.log(1e-2), np.log(1e4))  # the range kappa is searched on
DECAY_LOW = 0.02  # the smallest decay searched (it forgets all but the last outcome)
CRITICAL = float(chi2.ppf(0.95, 1))  # 95% profile-likelihood intervals
MAX_RHO = 0.9  # residual autocorrelation is capped here (phi at most 19)
SIGMA_FLOOR = 1e-3  # logits: far below any model's scatter, far above float rounding
MARGIN = 0.9  # a decay at or above this forgets nothing material: a memory of 10+ observations
SHIFT = 3.0  # a shared shift of the priors (shift_prior) is searched on [-3, 3] logits
_KAPPA_GRID = np.linspace(*LOG_KAPPA, 97)
# MARGIN is a grid point: the profile at it is the null of material forgetting
_DECAY_GRID = np.concatenate([np.linspace(DECAY_LOW, MARGIN, 45), np.linspace(0.905, 1.0, 20)])


def chibar_p(statistic: float) -> float:
    """P-value of a likelihood-ratio statistic for one parameter on a boundary: the null
    distribution is 1/2 chi2_0 + 1/2 chi2_1 (1 at a statistic of 0)."""
    return 0.5 * float(chi2.sf(statistic, 1)) if statistic > 0 else 1.0


def discounted_counts(outcomes: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """(C, W) [S, T]: the outcomes before t weighted by decay^(t-1-i), and the weights' sum."""
    o = np.asarray(outcomes, dtype=float)
    counts, weights = np.zeros_like(o), np.zeros(o.shape[1])
    c, w = np.zeros(o.shape[0]), 0.0
    for t in range(o.shape[1]):
        counts[:, t], weights[t] = c, w
        c = decay * c + o[:, t]
        w = decay * w + 1.0
    return counts, np.broadcast_to(weights, o.shape)


def predictive(
    prior: np.ndarray, outcomes: np.ndarray, kappa: float, decay: float = 1.0
) -> np.ndarray:
    """The discounted learner's P(outcome = 1) before each outcome (Beta-Bernoulli at
    decay 1, the fixed prior as kappa grows without bound)."""
    counts, weights = discounted_counts(outcomes, decay)
    return (kappa * np.asarray(prior, dtype=float) + counts) / (kappa + weights)


@dataclass(frozen=True)
class UpdatingFit:
    """The three learners fitted to one set of readings (see the module docstring); NaN
    where a quantity cannot be computed. Intervals are 95% profile-likelihood intervals."""

    readings: int
    sequences: int
    shots: int
    constant_evidence: bool  # every sequence's outcomes all alike: forgetting not identifiable
    sigma: float  # residual SD on the logit scale under Beta-Bernoulli
    rho: float  # lag-1 autocorrelation of the residuals (discounted learner)
    phi: float  # the scale every statistic is divided by
    loglik_fixed: float
    loglik_bb: float
    loglik_discounted: float
    kappa: float  # Beta-Bernoulli's
    kappa_lo: float
    kappa_hi: float
    kappa_identified: bool
    decay: float  # the discounted learner's
    decay_lo: float
    decay_hi: float
    decay_identified: bool
    kappa_discounted: float
    lr_update: float
    p_update: float
    lr_forget: float
    p_forget: float
    lr_material: float  # the decay below MARGIN against the best at or above it
    p_material: float
    r2: float  # Beta-Bernoulli's predictions against a constant, probability scale
    kappa_early: float
    kappa_late: float
    p_drift: float
    prior_shift: float = 0.0  # the shared shift of the priors (logits; fit_updating)

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def _prepare(q: object, prior: object, outcomes: object) -> tuple[np.ndarray, ...]:
    """(logit readings, priors, outcomes, weights): a missing reading (NaN) has weight 0."""
    y, m, o = (np.atleast_2d(np.asarray(x, dtype=float)) for x in (q, prior, outcomes))
    if not y.shape == m.shape == o.shape or y.size == 0:
        raise BayesmatrixError(f"readings {y.shape}, priors {m.shape}, outcomes {o.shape} differ")
    observed = ~np.isnan(y)
    if not observed.any() or not np.all(np.isfinite(y[observed])) or not np.all(np.isfinite(m)):
        raise BayesmatrixError("readings and priors must be finite probabilities (NaN: missing)")
    y = np.where(observed, y, 0.5)
    if np.any((y < 0) | (y > 1)) or np.any((m <= 0) | (m >= 1)):
        raise BayesmatrixError("readings must lie in [0, 1] and priors strictly inside (0, 1)")
    if not np.all(np.isin(o, (0, 1))):
        raise BayesmatrixError("outcomes must be 0/1")
    return logit(np.clip(y, CLIP, 1 - CLIP)), np.clip(m, CLIP, 1 - CLIP), o, observed * 1.0


class _Curves:
    """Residual sums of squares of the learners on one set of readings (weights pick the
    readings that count: the early or late half for the drift test)."""

    def __init__(self, y: np.ndarray, m: np.ndarray, o: np.ndarray, weights: np.ndarray):
        self.y, self.m, self.o, self.w = y, m, o, weights
        self._counts: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def counts(self, decay: float) -> tuple[np.ndarray, np.ndarray]:
        if decay not in self._counts:
            self._counts[decay] = discounted_counts(self.o, decay)
        return self._counts[decay]

    def rss(self, log_kappa: np.ndarray | float, decay: float = 1.0) -> np.ndarray:
        """RSS at each log kappa (vectorised over a grid of them)."""
        c, w = self.counts(decay)
        k = np.exp(np.atleast_1d(np.asarray(log_kappa, dtype=float)))[:, None, None]
        p = np.clip((k * self.m + c) / (k + w), CLIP, 1 - CLIP)
        return ((self.y - logit(p)) ** 2 * self.w).sum(axis=(1, 2))

    def best_kappa(self, decay: float = 1.0) -> tuple[float, float]:
        """(log kappa, RSS) minimising the RSS at a decay: a grid, then Brent's method
        between the grid point's neighbours (the bounds of LOG_KAPPA included)."""
        values = self.rss(_KAPPA_GRID, decay)
        i = int(np.argmin(values))
        lo, hi = _KAPPA_GRID[max(i - 1, 0)], _KAPPA_GRID[min(i + 1, len(_KAPPA_GRID) - 1)]
        res = minimize_scalar(
            lambda x: float(self.rss(x, decay)[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10},
        )
        if res.fun < values[i]:
            return float(res.x), float(res.fun)
        return float(_KAPPA_GRID[i]), float(values[i])

    def fixed(self) -> float:
        return float(((self.y - logit(self.m)) ** 2 * self.w).sum())


def _loglik(rss: float, n: float) -> float:
    """The profiled Gaussian log-likelihood; residuals below SIGMA_FLOOR (a learner's own
    noise-free readings) count as that floor, so rounding cannot make a test significant."""
    return -0.5 * n * np.log(max(rss / n, SIGMA_FLOOR**2))


def _interval(
    statistic, grid: np.ndarray, best: float, critical: float
) -> tuple[float, float, bool]:
    """The ends of {x: statistic(x) <= critical} around `best` (a profile statistic that is
    0 at best), found on the grid and refined by root finding; identified is False when the
    set reaches both ends of the grid."""
    values = np.array([statistic(x) for x in grid])
    inside = values <= critical
    ends = []
    for direction in (-1, 1):
        side = grid < best if direction < 0 else grid > best
        outside = np.nonzero(side & ~inside)[0]
        if not len(outside):
            ends.append(float(grid[0] if direction < 0 else grid[-1]))
            continue
        j = outside[-1] if direction < 0 else outside[0]
        a, b = (grid[j], best) if direction < 0 else (best, grid[j])
        try:
            ends.append(float(brentq(lambda x: statistic(x) - critical, a, b, xtol=1e-12)))
        except ValueError:  # no sign change between them (a flat stretch): the grid point
            ends.append(float(grid[j]))
    lo, hi = ends
    identified = not (lo <= grid[0] + 1e-12 and hi >= grid[-1] - 1e-12)
    return lo, hi, identified


def _shifted(m: np.ndarray, shift: float) -> np.ndarray:
    return np.clip(expit(logit(m) + shift), CLIP, 1 - CLIP)


def _best_shift(
    y: np.ndarray, m: np.ndarray, o: np.ndarray, weights: np.ndarray, rss: Callable
) -> float:
    """The shift of every prior on the logit scale minimising rss(curves): a grid on
    [-SHIFT, SHIFT], then Brent's method between the best point's neighbours."""
    grid = np.linspace(-SHIFT, SHIFT, 25)
    values = [rss(_Curves(y, _shifted(m, x), o, weights)) for x in grid]
    i = int(np.argmin(values))
    res = minimize_scalar(
        lambda x: rss(_Curves(y, _shifted(m, float(x)), o, weights)),
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-8},
    )
    return float(res.x) if res.fun < values[i] else float(grid[i])


def fit_updating(
    q: object, prior: object, outcomes: object, shift_prior: bool = False
) -> UpdatingFit:
    """The three learners fitted to readings [S, T] (see the module docstring); a reading
    that is NaN is missing (left out of every fit; its outcome still counts as evidence).

    shift_prior: the priors are a reading as noisy as any other and shared by every
    sequence (coin flips: one prompt before any flip), so their error would not average
    out; every prior is then moved by one shift on the logit scale, fitted with the fixed
    prior's and with Beta-Bernoulli's other parameters (the discounting learner keeps
    Beta-Bernoulli's shift, so the test of forgetting compares like with like)."""
    y, m, o, weights = _prepare(q, prior, outcomes)
    s, t = y.shape
    n = float(weights.sum())
    shift0 = shift1 = 0.0
    if shift_prior:
        shift0 = _best_shift(y, m, o, weights, lambda c: c.fixed())
        shift1 = _best_shift(y, m, o, weights, lambda c: c.best_kappa(1.0)[1])
    rss0 = _Curves(y, _shifted(m, shift0), o, weights).fixed()
    m = _shifted(m, shift1) if shift_prior else m
    curves = _Curves(y, m, o, weights)
    lk1, rss1 = curves.best_kappa(1.0)
    # the discounted learner: its profile over decay (kappa refitted at each decay)
    profile = {float(d): curves.best_kappa(float(d)) for d in _DECAY_GRID}
    d_best = min(profile, key=lambda d: (profile[d][1], -d))
    lo_d, hi_d = max(DECAY_LOW, d_best - 0.05), min(1.0, d_best + 0.05)
    res = minimize_scalar(
        lambda d: curves.best_kappa(float(d))[1],
        bounds=(lo_d, hi_d),
        method="bounded",
        options={"xatol": 1e-9},
    )
    decay, (lk2, rss2) = d_best, profile[d_best]
    if res.fun < rss2 - 1e-12 * max(rss2, 1.0):
        decay, (lk2, rss2) = float(res.x), curves.best_kappa(float(res.x))
    rss2 = min(rss2, rss1)  # it nests Beta-Bernoulli: never worse (rounding aside)
    if rss2 >= rss1:
        decay, lk2 = 1.0, lk1
    ll0, ll1, ll2 = _loglik(rss0, n), _loglik(rss1, n), _loglik(rss2, n)
    residuals = y - logit(np.clip(predictive(m, o, np.exp(lk2), decay), CLIP, 1 - CLIP))
    rho = _autocorrelation(residuals, weights)
    phi = (1 + rho) / (1 - rho) if rho > 0 else 1.0
    lr_update, lr_forget = max(0.0, 2 * (ll1 - ll0)), max(0.0, 2 * (ll2 - ll1))
    lr_material = 0.0
    if decay < MARGIN:  # against the best discounted fit with a decay at or above MARGIN
        rss_margin = min([rss1] + [v[1] for d, v in profile.items() if d >= MARGIN])
        lr_material = max(0.0, 2 * (ll2 - _loglik(rss_margin, n)))
    critical = CRITICAL * phi

    def kappa_statistic(x: float) -> float:
        return max(0.0, 2 * (ll1 - _loglik(float(curves.rss(x)[0]), n)))

    def decay_statistic(d: float) -> float:
        return max(0.0, 2 * (ll2 - _loglik(curves.best_kappa(float(d))[1], n)))

    k_lo, k_hi, k_id = _interval(kappa_statistic, _KAPPA_GRID, lk1, critical)
    d_lo, d_hi, d_id = _interval(decay_statistic, _DECAY_GRID, decay, critical)
    constant = bool(np.all(o.min(axis=1) == o.max(axis=1)))
    p_bb = predictive(m, o, np.exp(lk1))
    q_obs = expit(y)
    mean = float((q_obs * weights).sum() / n)
    spread = max(float((((q_obs - mean) ** 2) * weights).sum()), 1e-12)
    r2 = 1 - float((((p_bb - q_obs) ** 2) * weights).sum() / spread)
    early, late, p_drift = _drift(y, m, o, weights, rss1, n, phi)
    prior_shift = shift1
    return UpdatingFit(
        readings=int(n), sequences=s, shots=t, constant_evidence=constant,
        sigma=float(np.sqrt(rss1 / n)), rho=rho, phi=phi,
        loglik_fixed=ll0, loglik_bb=ll1, loglik_discounted=ll2,
        kappa=float(np.exp(lk1)), kappa_lo=float(np.exp(k_lo)), kappa_hi=float(np.exp(k_hi)),
        kappa_identified=k_id,
        decay=float(decay), decay_lo=d_lo, decay_hi=d_hi, decay_identified=d_id,
        kappa_discounted=float(np.exp(lk2)),
        lr_update=lr_update, p_update=chibar_p(lr_update / phi),
        lr_forget=lr_forget, p_forget=chibar_p(lr_forget / phi),
        lr_material=lr_material, p_material=chibar_p(lr_material / phi),
        r2=r2, kappa_early=early, kappa_late=late, p_drift=p_drift, prior_shift=prior_shift,
    )  # fmt: skip


def _autocorrelation(residuals: np.ndarray, weights: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals within sequences (pooled over the pairs of
    neighbouring readings that are both present), capped at MAX_RHO."""
    if residuals.shape[1] < 2:
        return 0.0
    r = (residuals - (residuals * weights).sum() / weights.sum()) * weights
    denominator = float((r**2).sum())
    if denominator <= 0:
        return 0.0
    return float(min(MAX_RHO, (r[:, 1:] * r[:, :-1]).sum() / denominator))


def _drift(
    y: np.ndarray,
    m: np.ndarray,
    o: np.ndarray,
    observed: np.ndarray,
    rss1: float,
    n: float,
    phi: float,
) -> tuple[float, float, float]:
    """(kappa of the early half, of the late half, p-value of one kappa for both): each half's
    readings predicted from the whole history before them."""
    t = y.shape[1]
    if t < 4:
        return float("nan"), float("nan"), float("nan")
    halves = []
    rss = 0.0
    for part in (slice(0, t // 2), slice(t // 2, t)):
        weights = np.zeros_like(y)
        weights[:, part] = observed[:, part]
        lk, value = _Curves(y, m, o, weights).best_kappa(1.0)
        halves.append(float(np.exp(lk)))
        rss += value
    statistic = max(0.0, 2 * (_loglik(min(rss, rss1), n) - _loglik(rss1, n)))
    return halves[0], halves[1], float(chi2.sf(statistic / phi, 1))
