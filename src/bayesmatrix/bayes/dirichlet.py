"""The Dirichlet distribution over next-token rows, with conjugate updating and MLE fits.

Vocabulary follows scipy.stats (logpdf, rvs, mean, var, entropy); Bayesian verbs are
posterior(counts), predictive(), log_marginal(counts). Fits follow scikit-learn: classmethods
return the fitted object, learned diagnostics end in an underscore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln, polygamma, xlogy

from bayesmatrix.bayes.validation import as_alpha, as_counts, as_points, check_points

ZERO_FLOOR = 1e-300  # zero policy of Dirichlet.fit: exact zeros (and denormals) are raised to it


def inv_digamma(y: np.ndarray, iters: int = 6) -> np.ndarray:
    """Inverse of the digamma function by Newton's method (Minka's initialisation)."""
    y = np.asarray(y, dtype=float)
    x = np.where(y >= -2.22, np.exp(y) + 0.5, -1.0 / (y - digamma(1.0)))
    for _ in range(iters):
        x = x - (digamma(x) - y) / polygamma(1, x)
    return x


def newton_step(g: np.ndarray, q: np.ndarray, z: float) -> np.ndarray:
    """H^-1 g for a Hessian H = diag(q) + z 11^T (Minka 2000), in O(K)."""
    b = np.sum(g / q) / (1.0 / z + np.sum(1.0 / q))
    return (g - b) / q


@dataclass(frozen=True)
class DirichletFit:
    """Diagnostics of a maximum-likelihood fit."""

    loglik: float
    n_iter: int
    converged: bool


class Dirichlet:
    """Dirichlet(alpha) on the (K-1)-simplex."""

    def __init__(self, alpha: object) -> None:
        self.alpha = as_alpha(alpha)
        self.fit_: DirichletFit | None = None

    def __repr__(self) -> str:
        shown = np.array2string(self.alpha, precision=4, threshold=8)
        return f"{type(self).__name__}(alpha={shown})"

    @property
    def k(self) -> int:
        return self.alpha.size

    @property
    def kappa(self) -> float:
        """alpha_0 = sum(alpha): the prior strength in pseudo-counts."""
        return float(self.alpha.sum())

    # ---- density and moments ------------------------------------------------------------
    def log_normaliser(self) -> float:
        """log B(alpha) = sum log Gamma(alpha_k) - log Gamma(alpha_0)."""
        return float(gammaln(self.alpha).sum() - gammaln(self.alpha.sum()))

    def logpdf(self, x: ArrayLike) -> np.ndarray | float:
        """Log density at points on the simplex ([K] -> float, [n, K] -> [n])."""
        pts = as_points(x, self.k)
        out = xlogy(self.alpha - 1, pts).sum(axis=1) - self.log_normaliser()
        return float(out[0]) if np.ndim(x) == 1 else out

    def pdf(self, x: ArrayLike) -> np.ndarray | float:
        return np.exp(self.logpdf(x))

    def rvs(
        self, size: int = 1, random_state: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """[size, K] samples (gamma construction; rows with all-underflow gammas are redrawn)."""
        rng = np.random.default_rng(random_state)
        g = rng.gamma(self.alpha, size=(size, self.k))
        bad = g.sum(axis=1) == 0
        while np.any(bad):  # tiny alphas can underflow every coordinate
            g[bad] = rng.gamma(self.alpha, size=(int(bad.sum()), self.k))
            bad = g.sum(axis=1) == 0
        return g / g.sum(axis=1, keepdims=True)

    def mean(self) -> np.ndarray:
        return self.alpha / self.alpha.sum()

    def var(self) -> np.ndarray:
        a0 = self.alpha.sum()
        m = self.alpha / a0
        return m * (1 - m) / (a0 + 1)

    def entropy(self) -> float:
        """Differential entropy (nats)."""
        a, a0 = self.alpha, self.alpha.sum()
        return float(
            self.log_normaliser() + (a0 - self.k) * digamma(a0) - ((a - 1) * digamma(a)).sum()
        )

    def kl(self, other: Dirichlet) -> float:
        """KL(self || other) in nats."""
        if other.k != self.k:
            raise ValueError(f"KL needs equal dimension, got {self.k} and {other.k}")
        a, b = self.alpha, other.alpha
        a0 = a.sum()
        return float(
            gammaln(a0)
            - gammaln(a).sum()
            - gammaln(b.sum())
            + gammaln(b).sum()
            + ((a - b) * (digamma(a) - digamma(a0))).sum()
        )

    # ---- Bayesian updating ---------------------------------------------------------------
    def posterior(self, counts: object) -> Dirichlet:
        """Dirichlet(alpha + counts); [n, K] counts are summed (batch = sequential update)."""
        c = as_counts(counts, self.k)
        return Dirichlet(self.alpha + (c.sum(axis=0) if c.ndim == 2 else c))

    def predictive(self) -> np.ndarray:
        """Posterior predictive of the next category: the mean of the distribution."""
        return self.mean()

    def log_marginal(self, counts: object, ordered: bool = False) -> np.ndarray | float:
        """Dirichlet-multinomial (Polya) log-probability of count vectors.

        ordered=False: of the counts (with the multinomial coefficient, as scipy's
        dirichlet_multinomial.logpmf); ordered=True: of one particular sequence with them.
        """
        c = as_counts(counts, self.k)
        c2 = np.atleast_2d(c)
        n = c2.sum(axis=1)
        a, a0 = self.alpha, self.alpha.sum()
        out = gammaln(a0) - gammaln(n + a0) + (gammaln(c2 + a) - gammaln(a)).sum(axis=1)
        if not ordered:
            out = out + gammaln(n + 1) - gammaln(c2 + 1).sum(axis=1)
        return float(out[0]) if c.ndim == 1 else out

    # ---- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, points: object, max_iter: int = 200, tol: float = 1e-9) -> Dirichlet:
        """Maximum-likelihood Dirichlet for points on the simplex.

        Zero policy: coordinates below ZERO_FLOOR (1e-300: exact zeros and denormals) are raised
        to it, so log-points stay finite and the fit never returns NaN; a true zero then pulls its
        alpha towards 0, as the likelihood says. Points must sum to 1 within 1e-6.
        Minka's fixed point from a moment-matched start, then Newton steps.
        """
        x, sums = check_points(points)
        buffer = np.maximum(x, ZERO_FLOOR)  # the only [n, K] temporary
        np.log(buffer, out=buffer)
        mean_log = buffer.mean(axis=0) - np.log(sums).mean()  # log(x / s) = log x - log s
        head = x[:2000] / sums[:2000, None]
        return cls.fit_stats(
            mean_log, len(x), start=_moment_start(head), max_iter=max_iter, tol=tol
        )

    @classmethod
    def fit_stats(
        cls,
        mean_log: np.ndarray,
        n: float,
        start: np.ndarray | None = None,
        max_iter: int = 200,
        tol: float = 1e-9,
    ) -> Dirichlet:
        """MLE from the sufficient statistic mean(log x) over n (possibly weighted) points.
        Stops when no alpha_k moves by more than tol relative."""
        s = np.asarray(mean_log, dtype=float)

        def loglik(a: np.ndarray) -> float:
            return float(n * (gammaln(a.sum()) - gammaln(a).sum() + ((a - 1) * s).sum()))

        alpha = np.full(s.size, 1.0) if start is None else np.asarray(start, dtype=float).copy()
        for _ in range(1 if start is not None else 3):  # fixed point: a safe start for Newton
            alpha = inv_digamma(digamma(alpha.sum()) + s)

        def newton(a: np.ndarray) -> np.ndarray:
            a0 = a.sum()
            g = n * (digamma(a0) - digamma(a) + s)
            return newton_step(g, -n * polygamma(1, a), n * float(polygamma(1, a0)))

        def fixed_point(a: np.ndarray) -> np.ndarray:
            return inv_digamma(digamma(a.sum()) + s)

        alpha, info = maximise(alpha, loglik, newton, fixed_point, max_iter, tol)
        out = cls(alpha)
        out.fit_ = info
        return out

    @classmethod
    def fit_counts(cls, counts: object, max_iter: int = 500, tol: float = 1e-9) -> Dirichlet:
        """Dirichlet-multinomial MLE from [n, K] count vectors (Minka's fixed point + Newton)."""
        c = np.atleast_2d(as_counts(counts))
        c = c[c.sum(axis=1) > 0]
        if len(c) < 2:
            raise ValueError("fit_counts needs at least 2 non-empty count vectors")
        n = c.sum(axis=1)
        p = c.sum(axis=0) / n.sum()
        if np.any(p == 0):
            raise ValueError(
                f"categories {np.where(p == 0)[0].tolist()} are never observed; the MLE puts "
                "alpha -> 0 there: drop them or add a pseudo-count"
            )

        def loglik(a: np.ndarray) -> float:
            a0 = a.sum()
            return float(
                (gammaln(a0) - gammaln(n + a0)).sum() + (gammaln(c + a) - gammaln(a)).sum()
            )

        def newton(a: np.ndarray) -> np.ndarray:
            a0 = a.sum()
            g = (digamma(a0) - digamma(n + a0)).sum() + (digamma(c + a) - digamma(a)).sum(0)
            q = (polygamma(1, c + a) - polygamma(1, a)).sum(axis=0)
            z = float((polygamma(1, a0) - polygamma(1, n + a0)).sum())
            return newton_step(g, q, z)

        def fixed_point(a: np.ndarray) -> np.ndarray:
            a0 = a.sum()
            num = (digamma(c + a) - digamma(a)).sum(axis=0)
            return a * num / (digamma(n + a0) - digamma(a0)).sum()

        alpha = p * 1.0
        for _ in range(20):  # Minka's fixed point from the pooled proportions, then Newton
            alpha = fixed_point(alpha)
        alpha, info = maximise(alpha, loglik, newton, fixed_point, max_iter, tol)
        out = cls(alpha)
        coefficient = float((gammaln(n + 1) - gammaln(c + 1).sum(1)).sum())
        out.fit_ = DirichletFit(info.loglik + coefficient, info.n_iter, info.converged)
        return out


def maximise(
    alpha: np.ndarray,
    loglik: Callable[[np.ndarray], float],
    newton: Callable[[np.ndarray], np.ndarray],
    fixed_point: Callable[[np.ndarray], np.ndarray],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, DirichletFit]:
    """Damped Newton ascent on a concave log-likelihood over alpha > 0: halve the step until
    alpha stays positive and the likelihood does not fall; if that fails, take one fixed-point
    step. Stops when no alpha_k moves by more than tol relative."""
    current, converged, n_iter = loglik(alpha), False, 0
    while n_iter < max_iter:
        n_iter += 1
        step, t = newton(alpha), 1.0
        while t >= 1e-8:
            proposal = alpha - t * step
            if np.all(proposal > 0):
                value = loglik(proposal)
                if value >= current - 1e-12 * abs(current):
                    break
            t *= 0.5
        else:
            proposal = fixed_point(alpha)
            value = loglik(proposal)
        change = float(np.max(np.abs(proposal - alpha) / alpha))
        alpha, current = proposal, value
        if change <= tol:
            converged = True
            break
    return alpha, DirichletFit(current, n_iter, converged)


def _moment_start(x: np.ndarray) -> np.ndarray:
    """Moment-matching start (from a subsample): mean times the median implied precision."""
    m = x.mean(axis=0)
    v = x.var(axis=0)
    ok = (v > 0) & (m > 0) & (m < 1)
    if not np.any(ok):
        return m * x.shape[1]
    precision = np.median(m[ok] * (1 - m[ok]) / v[ok] - 1)
    return np.maximum(m * max(precision, 1e-3), 1e-6)


class Beta(Dirichlet):
    """Beta(a, b): the two-category Dirichlet (a thin alias; all methods are Dirichlet's)."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__([a, b])

    @property
    def a(self) -> float:
        return float(self.alpha[0])

    @property
    def b(self) -> float:
        return float(self.alpha[1])


def beta_bernoulli_predictive(
    successes: ArrayLike, trials: ArrayLike, a: ArrayLike, b: ArrayLike
) -> np.ndarray:
    """P(next outcome = 1) after `successes` in `trials` under a Beta(a, b) prior, the
    posterior mean (a + successes) / (a + b + trials), elementwise: the exact learner every
    claim holds a model to (coin flips, ICL label agreement, sampled paths)."""
    s, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return (a + s) / (a + b + n)
