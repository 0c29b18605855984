"""Sequence learners: predictive probabilities along a sequence of observed outcomes.

Used to read an LM's in-context learning curve as Bayesian updating. Each learner has
predict(...) -> predictive at every position given only the past, and fit(observed, ...) that
finds the parameters minimising cross-entropy to an observed predictive curve (e.g. an LM's),
with bootstrap confidence intervals over sequences. Shapes: S sequences x T positions (x K).

- BetaBernoulliLearner: the paper's Beta-Binomial argument; kappa = prior pseudo-counts.
- RecencyLearner: exponentially forgetting counts (not exchangeable, so not Bayesian for any
  decay < 1; decay = 1 is exactly Beta-Bernoulli).
- HypothesisMixtureLearner: a prior over label mappings plus a Dirichlet base-rate component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, logit, logsumexp

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.bayes.information import binary_cross_entropy, binary_entropy
from bayesmatrix.errors import BayesmatrixError

EPS = 1e-9


@dataclass(frozen=True)
class LearnerFit:
    """A learner fitted to observed predictive curves."""

    learner: str
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    cross_entropy: float  # nats per position, mean over positions
    kl_bits: float  # mean KL(observed || fitted) in bits per position (0 = perfect)
    r2: float  # of fitted against observed probabilities
    n_sequences: int
    n_positions: int
    n_params: int
    bootstrap: int
    ci_unit: str  # what the bootstrap resampled: "sequences" or "positions"


def _as_binary(observed: object, outcomes: object) -> tuple[np.ndarray, np.ndarray]:
    q = np.atleast_2d(np.asarray(observed, dtype=float))
    o = np.atleast_2d(np.asarray(outcomes, dtype=float))
    if q.shape != o.shape or q.size == 0:
        raise BayesmatrixError(f"observed {q.shape} and outcomes {o.shape} must have one shape")
    if not np.all(np.isfinite(q)) or np.any((q < 0) | (q > 1)):
        raise BayesmatrixError("observed probabilities must be finite and in [0, 1]")
    if not np.all(np.isin(o, (0, 1))):
        raise BayesmatrixError("outcomes must be 0/1")
    return q, o


def _positive(x: float) -> float:
    """exp(x) kept inside [1e-6, 1e8]: kappas stay finite and non-zero while optimising."""
    return float(np.exp(np.clip(x, np.log(1e-6), np.log(1e8))))


@dataclass(frozen=True)
class _Problem:
    """What a fit needs: per-position losses for parameters, and the observed curve."""

    names: tuple[str, ...]
    to_params: Callable[[np.ndarray], dict[str, float]]
    losses: Callable[[dict[str, float]], np.ndarray]  # [S, T] cross-entropies
    entropies: np.ndarray  # [S, T] entropy of the observed distributions
    starts: list[np.ndarray]
    predicted: Callable[[dict[str, float]], np.ndarray]
    observed: np.ndarray
    # parameter (index into theta) -> its value in theta space under the simpler model it
    # nests (e.g. recency decay 1 = Beta-Bernoulli); see _snap
    nulls: dict[int, float] = field(default_factory=dict)


# a parameter is snapped to its null value when that costs less than this (nats/position):
# far below any difference the verdicts resolve (TIE_NATS is 1e-3), far above float noise
SNAP_NATS = 1e-9


def _optimise(problem: _Problem, weights: np.ndarray, starts: list[np.ndarray]) -> np.ndarray:
    total = weights.sum()

    def objective(theta: np.ndarray) -> float:
        value = float((problem.losses(problem.to_params(theta)) * weights).sum() / total)
        return value if np.isfinite(value) else 1e6

    best = None
    for start in starts:
        res = minimize(objective, start, method="L-BFGS-B")
        res = minimize(
            objective,
            res.x,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None  # at least one start
    return _snap(problem, objective, best.x)


def _snap(problem: _Problem, objective: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Set each parameter with a null value to it when the fit is as good there (within
    SNAP_NATS). Where the loss is flat in a parameter (a recency decay when the prior's
    weight swamps the counts, or when every outcome agrees) the optimiser stops anywhere, and
    float noise in the data would move that point, and with it a bootstrap percentile, by
    any amount; the null value is the one reading that does not depend on the noise."""
    x = np.array(x, dtype=float)
    for index, null in problem.nulls.items():
        trial = x.copy()
        trial[index] = null
        if objective(trial) <= objective(x) + SNAP_NATS:
            x = trial
    return x


def _run_fit(problem: _Problem, name: str, bootstrap: int, seed: int | None) -> LearnerFit:
    s, t = problem.entropies.shape
    ones = np.ones((s, t))
    theta = _optimise(problem, ones, problem.starts)
    params = problem.to_params(theta)
    rng = np.random.default_rng(seed)
    unit = "sequences" if s > 1 else "positions"
    draws: dict[str, list[float]] = {k: [] for k in problem.names}
    for _ in range(bootstrap):
        if unit == "sequences":
            w = np.bincount(rng.integers(s, size=s), minlength=s)[:, None] * np.ones((1, t))
        else:
            w = np.bincount(rng.integers(t, size=t), minlength=t)[None, :] * np.ones((s, 1))
        boot = problem.to_params(_optimise(problem, w, [theta]))
        for k in problem.names:
            draws[k].append(boot[k])
    ci = {
        k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
        if v
        else (float("nan"), float("nan"))
        for k, v in draws.items()
    }
    ce = problem.losses(params)
    pred = problem.predicted(params)
    obs = problem.observed
    r2 = 1 - float(((pred - obs) ** 2).sum() / max(((obs - obs.mean()) ** 2).sum(), EPS))
    return LearnerFit(
        learner=name,
        params=params,
        ci=ci,
        cross_entropy=float(ce.mean()),
        kl_bits=float((ce - problem.entropies).mean() / np.log(2)),
        r2=r2,
        n_sequences=s,
        n_positions=t,
        n_params=len(problem.names),
        bootstrap=bootstrap,
        ci_unit=unit,
    )


# ---- binary learners ---------------------------------------------------------------------
@dataclass
class BetaBernoulliLearner:
    """p_t = (prior_mean * kappa + successes before t) / (kappa + t).

    prior_mean may be a scalar or an array broadcastable to [S] or [S, T] (e.g. the zero-shot
    LM probability per sequence); kappa is the prior's weight in pseudo-counts.
    """

    prior_mean: float | np.ndarray = 0.5
    kappa: float = 1.0
    fit_: LearnerFit | None = field(default=None, repr=False)

    def predict(self, outcomes: object) -> np.ndarray:
        o = np.atleast_2d(np.asarray(outcomes, dtype=float))
        before = np.cumsum(o, axis=1) - o
        t = np.arange(o.shape[1])
        m = _broadcast_mean(self.prior_mean, o.shape)
        return beta_bernoulli_predictive(before, t, m * self.kappa, (1 - m) * self.kappa)

    def fit(
        self,
        observed: object,
        outcomes: object,
        fit_mean: bool = False,
        bootstrap: int = 200,
        seed: int | None = 0,
    ) -> BetaBernoulliLearner:
        """Fit kappa (and prior_mean if fit_mean) to observed P(outcome=1) curves."""
        q, o = _as_binary(observed, outcomes)
        names = ("kappa", "prior_mean") if fit_mean else ("kappa",)

        def to_params(theta: np.ndarray) -> dict[str, float]:
            p = {"kappa": _positive(theta[0])}
            if fit_mean:
                p["prior_mean"] = _unit(theta[1])
            return p

        def learner(p: dict[str, float]) -> BetaBernoulliLearner:
            return replace(
                self,
                kappa=p["kappa"],
                prior_mean=p.get("prior_mean", self.prior_mean),
                fit_=None,
            )

        starts = [
            np.array([np.log(s)] + ([logit(0.5)] if fit_mean else [])) for s in (0.5, 5.0, 50.0)
        ]
        return _fit_binary(
            q, o, names, to_params, learner, starts, "beta-bernoulli", bootstrap, seed
        )


@dataclass
class RecencyLearner:
    """Exponentially forgetting counts: p_t = (m s + sum_i decay^(t-1-i) o_i) /
    (s + sum_i decay^(t-1-i)). decay = 1 is Beta-Bernoulli; decay < 1 is not exchangeable."""

    prior_mean: float | np.ndarray = 0.5
    kappa: float = 1.0
    decay: float = 0.9
    fit_: LearnerFit | None = field(default=None, repr=False)

    def predict(self, outcomes: object) -> np.ndarray:
        o = np.atleast_2d(np.asarray(outcomes, dtype=float))
        s, t = o.shape
        counts = np.zeros(s)
        weight = 0.0
        out = np.empty((s, t))
        m = _broadcast_mean(self.prior_mean, o.shape)
        for j in range(t):
            out[:, j] = (m[:, j] * self.kappa + counts) / (self.kappa + weight)
            counts = self.decay * counts + o[:, j]
            weight = self.decay * weight + 1.0
        return out

    def fit(
        self,
        observed: object,
        outcomes: object,
        fit_mean: bool = False,
        bootstrap: int = 200,
        seed: int | None = 0,
    ) -> RecencyLearner:
        """Fit kappa and decay (and prior_mean if fit_mean) to observed curves."""
        q, o = _as_binary(observed, outcomes)
        names = ("kappa", "decay", *(("prior_mean",) if fit_mean else ()))

        def to_params(theta: np.ndarray) -> dict[str, float]:
            p = {"kappa": _positive(theta[0]), "decay": float(expit(theta[1]))}
            if fit_mean:
                p["prior_mean"] = _unit(theta[2])
            return p

        def learner(p: dict[str, float]) -> RecencyLearner:
            return replace(
                self,
                kappa=p["kappa"],
                decay=p["decay"],
                prior_mean=p.get("prior_mean", self.prior_mean),
                fit_=None,
            )

        starts = [
            np.array([np.log(s), logit(d)] + ([0.0] if fit_mean else []))
            for s in (0.5, 5.0)
            for d in (0.5, 0.95)
        ]
        # decay 1 (theta 40: expit is 1.0 in float64) is the Beta-Bernoulli learner it nests
        return _fit_binary(
            q, o, names, to_params, learner, starts, "recency", bootstrap, seed, {1: 40.0}
        )


def _fit_binary(
    q: np.ndarray,
    o: np.ndarray,
    names: tuple[str, ...],
    to_params: Callable[[np.ndarray], dict[str, float]],
    learner: Callable[[dict[str, float]], Any],
    starts: list[np.ndarray],
    name: str,
    bootstrap: int,
    seed: int | None,
    nulls: dict[int, float] | None = None,
):
    """Fit a binary learner: cross-entropy of its predictions on outcomes o against q."""
    problem = _Problem(
        names,
        to_params,
        lambda p: binary_cross_entropy(q, learner(p).predict(o)),
        binary_entropy(q),
        starts,
        lambda p: learner(p).predict(o),
        q,
        nulls or {},
    )
    result = _run_fit(problem, name, bootstrap, seed)
    fitted = learner(result.params)
    fitted.fit_ = result
    return fitted


def _unit(theta: float) -> float:
    """expit(theta) kept inside (0, 1): in float64 expit(37) is exactly 1.0, which an optimiser
    exploring far in logit space would otherwise reach (and which no prior mean may be)."""
    eps = 1e-12
    return float(np.clip(expit(theta), eps, 1 - eps))


def _broadcast_mean(mean: float | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.asarray(mean, dtype=float)
    if m.ndim == 1:
        m = m[:, None]
    if np.any((m <= 0) | (m >= 1)):
        raise BayesmatrixError("prior_mean must be strictly between 0 and 1")
    return np.broadcast_to(m, shape)


# ---- hypothesis mixture ---------------------------------------------------------------------
@dataclass
class HypothesisMixtureLearner:
    """A prior over H label mappings plus an input-independent Dirichlet base rate.

    Hypothesis h says example t has label hyp_labels[h, t] with probability 1 - noise (the
    other K-1 labels share noise). The base-rate component predicts (a/K + n_k) / (a + t) from
    label counts, a = base_kappa. Posterior weights after t examples are prior weights
    times each component's likelihood of the labels seen; the predictive mixes them.
    weights has H + 1 entries (the last is the base rate).
    """

    weights: np.ndarray
    noise: float = 0.05
    base_kappa: float = 2.0
    fit_: LearnerFit | None = field(default=None, repr=False)

    def predict(self, labels: object, hyp_labels: object, n_classes: int) -> np.ndarray:
        """[S, T, K] predictive label distributions given labels[:, :t] at each t."""
        y = np.atleast_2d(np.asarray(labels, dtype=int))
        h = np.asarray(hyp_labels, dtype=int)
        if h.ndim == 2:
            h = h[None]
        s, t = y.shape
        k = n_classes
        n_h = h.shape[1]
        w = np.asarray(self.weights, dtype=float)
        if h.shape != (s, n_h, t) or len(w) != n_h + 1:
            raise BayesmatrixError(
                f"need labels [S, T], hyp_labels [S, H, T] and H + 1 weights; got {y.shape}, "
                f"{h.shape}, {len(w)}"
            )
        if np.any((y < 0) | (y >= k)) or np.any((h < 0) | (h >= k)):
            raise BayesmatrixError(f"labels must be in 0..{k - 1}")
        keep = 1 - self.noise
        other = self.noise / (k - 1)
        onehot_h = np.eye(k)[h]  # [S, H, T, K]
        hyp_pred = onehot_h * keep + (1 - onehot_h) * other
        hyp_loglik = np.log(np.where(h == y[:, None, :], keep, other))  # [S, H, T]
        counts = np.cumsum(np.eye(k)[y], axis=1) - np.eye(k)[y]  # [S, T, K] before t
        base_pred = (self.base_kappa / k + counts) / (self.base_kappa + np.arange(t))[:, None]
        base_loglik = np.log(np.take_along_axis(base_pred, y[..., None], 2)[..., 0])  # [S, T]
        loglik = np.concatenate([hyp_loglik, base_loglik[:, None, :]], axis=1)  # [S, H+1, T]
        before = np.cumsum(loglik, axis=2) - loglik
        log_post = np.log(np.maximum(w, 1e-300))[None, :, None] + before
        post = np.exp(log_post - logsumexp(log_post, axis=1, keepdims=True))  # [S, H+1, T]
        return (
            np.einsum("sht,shtk->stk", post[:, :n_h], hyp_pred) + post[:, n_h, :, None] * base_pred
        )

    def fit(
        self,
        observed: object,
        labels: object,
        hyp_labels: object,
        bootstrap: int = 200,
        seed: int | None = 0,
    ) -> HypothesisMixtureLearner:
        """Fit weights, noise and base_kappa to observed [S, T, K] label distributions."""
        q = np.asarray(observed, dtype=float)
        if q.ndim == 2:
            q = q[None]
        if not np.all(np.isfinite(q)) or np.any(q < 0) or not np.allclose(q.sum(-1), 1, atol=1e-6):
            raise BayesmatrixError("observed must be [S, T, K] distributions summing to 1")
        k = q.shape[-1]
        n_w = len(self.weights)
        names = (*(f"w{j}" for j in range(n_w)), "noise", "base_kappa")

        def to_params(theta: np.ndarray) -> dict[str, float]:
            w = np.exp(log_softmax(np.append(theta[: n_w - 1], 0.0)))
            p = {f"w{j}": float(w[j]) for j in range(n_w)}
            p["noise"] = float(expit(theta[n_w - 1]) * (k - 1) / k)  # noise < (K-1)/K
            p["base_kappa"] = _positive(theta[n_w])
            return p

        def learner(p: dict[str, float]) -> HypothesisMixtureLearner:
            return replace(
                self,
                weights=np.array([p[f"w{j}"] for j in range(n_w)]),
                noise=p["noise"],
                base_kappa=p["base_kappa"],
                fit_=None,
            )

        def losses(p: dict[str, float]) -> np.ndarray:
            pred = learner(p).predict(labels, hyp_labels, k)
            return -(q * np.log(np.clip(pred, EPS, 1))).sum(-1)

        entropies = -(q * np.log(np.clip(q, EPS, 1))).sum(-1)
        starts = [
            np.concatenate([np.zeros(n_w - 1), [logit(nz)], [np.log(2.0)]]) for nz in (0.05, 0.3)
        ]
        problem = _Problem(
            names,
            to_params,
            losses,
            entropies,
            starts,
            lambda p: learner(p).predict(labels, hyp_labels, k),
            q,
        )
        result = _run_fit(problem, "hypothesis-mixture", bootstrap, seed)
        fitted = learner(result.params)
        fitted.fit_ = result
        return fitted
