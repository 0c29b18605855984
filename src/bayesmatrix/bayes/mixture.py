"""Finite Dirichlet mixtures: the paper's Theorem 2 prior over next-token rows.

Any prior over multinomials is approximated by sum_j w_j Dir(alpha_j). The posterior given
counts is again such a mixture, with weights proportional to w_j times each component's
marginal likelihood of the counts. Fitting is EM with a k-means++-style start and restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, logsumexp, xlogy

from bayesmatrix.bayes.dirichlet import ZERO_FLOOR, Dirichlet
from bayesmatrix.bayes.validation import as_alpha, as_counts, as_points
from bayesmatrix.errors import BayesmatrixError


@dataclass(frozen=True)
class MixtureFit:
    """Diagnostics of an EM fit: log-likelihood, information criteria, iterations."""

    loglik: float
    n_params: int
    n_points: int
    n_iter: int
    converged: bool
    restarts: int

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def bic(self) -> float:
        return self.n_params * np.log(self.n_points) - 2 * self.loglik


class DirichletMixture:
    """sum_j weights[j] * Dirichlet(alphas[j]) on the (K-1)-simplex."""

    def __init__(self, weights: object, alphas: object) -> None:
        w = np.asarray(weights, dtype=float)
        a = np.asarray(alphas, dtype=float)
        if a.ndim != 2 or w.ndim != 1 or len(w) != len(a) or len(w) == 0:
            raise BayesmatrixError(
                f"need weights [m] and alphas [m, K] with the same m >= 1; got {w.shape}, {a.shape}"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1) > 1e-8:
            raise BayesmatrixError(f"weights must be non-negative and sum to 1, got {w}")
        self.weights = w / w.sum()
        self.alphas = np.stack([as_alpha(row, f"alphas[{j}]") for j, row in enumerate(a)])
        self.fit_: MixtureFit | None = None

    def fitted(self) -> MixtureFit:
        """The fit's statistics (a mixture made from given parameters has none)."""
        if self.fit_ is None:
            raise BayesmatrixError("this mixture was not fitted: use DirichletMixture.fit")
        return self.fit_

    def __repr__(self) -> str:
        return f"DirichletMixture(m={self.m}, K={self.k}, weights={np.round(self.weights, 3)})"

    @property
    def m(self) -> int:
        return len(self.weights)

    @property
    def k(self) -> int:
        return self.alphas.shape[1]

    @property
    def components(self) -> list[Dirichlet]:
        return [Dirichlet(a) for a in self.alphas]

    # ---- density and moments ------------------------------------------------------------
    def _component_logpdf(self, x: np.ndarray) -> np.ndarray:
        """[n, m] log densities of points (already validated) under each component."""
        log_x = np.log(np.maximum(x, ZERO_FLOOR))
        log_b = gammaln(self.alphas).sum(1) - gammaln(self.alphas.sum(1))
        out = log_x @ (self.alphas - 1).T - log_b
        exact_zero = x == 0  # xlogy semantics: alpha == 1 at a zero coordinate contributes 0
        if np.any(exact_zero):
            out = xlogy(self.alphas[None, :, :] - 1, x[:, None, :]).sum(-1) - log_b
        return out

    def logpdf(self, x: ArrayLike) -> np.ndarray | float:
        pts = as_points(x, self.k)
        out = logsumexp(self._component_logpdf(pts) + np.log(self.weights), axis=1)
        return float(out[0]) if np.ndim(x) == 1 else out

    def pdf(self, x: ArrayLike) -> np.ndarray | float:
        return np.exp(self.logpdf(x))

    def rvs(
        self, size: int = 1, random_state: int | np.random.Generator | None = None
    ) -> np.ndarray:
        rng = np.random.default_rng(random_state)
        which = rng.choice(self.m, size=size, p=self.weights)
        out = np.empty((size, self.k))
        for j in range(self.m):
            sel = which == j
            if sel.any():
                out[sel] = Dirichlet(self.alphas[j]).rvs(int(sel.sum()), rng)
        return out

    def mean(self) -> np.ndarray:
        return self.weights @ (self.alphas / self.alphas.sum(1, keepdims=True))

    def var(self) -> np.ndarray:
        """Law of total variance over components."""
        means = self.alphas / self.alphas.sum(1, keepdims=True)
        within = np.stack([c.var() for c in self.components])
        total_mean = self.mean()
        return self.weights @ (within + (means - total_mean) ** 2)

    def entropy(self, n: int = 20000, random_state: int | None = 0) -> float:
        """Differential entropy by Monte Carlo (no closed form): -mean logpdf of n samples."""
        return float(-np.mean(self.logpdf(self.rvs(n, random_state))))

    # ---- Bayesian updating -------------------------------------------------------------
    def posterior(self, counts: object) -> DirichletMixture:
        """Mixture posterior: alphas + counts, weights ∝ w_j * marginal_j(counts)."""
        c = as_counts(counts, self.k)
        total = c.sum(axis=0) if c.ndim == 2 else c
        log_w = np.log(self.weights) + self._log_marginals(total)
        return DirichletMixture(np.exp(log_w - logsumexp(log_w)), self.alphas + total)

    def predictive(self) -> np.ndarray:
        return self.mean()

    def _log_marginals(self, counts: np.ndarray) -> np.ndarray:
        """[m] ordered-sequence Polya log-probability of one count vector per component."""
        a0 = self.alphas.sum(1)
        return (
            gammaln(a0)
            - gammaln(a0 + counts.sum())
            + (gammaln(self.alphas + counts) - gammaln(self.alphas)).sum(1)
        )

    def log_marginal(self, counts: object, ordered: bool = False) -> np.ndarray | float:
        """Log marginal likelihood of count vectors: logsumexp_j(log w_j + Polya_j)."""
        c = as_counts(counts, self.k)
        per = np.stack(
            [comp.log_marginal(np.atleast_2d(c), ordered) for comp in self.components], axis=1
        )
        out = logsumexp(per + np.log(self.weights), axis=1)
        return float(out[0]) if c.ndim == 1 else out

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        data: object,
        k: int,
        restarts: int = 3,
        max_iter: int = 300,
        tol: float = 1e-7,
        random_state: int | None = 0,
    ) -> DirichletMixture:
        """EM for a k-component mixture on simplex points; the best of `restarts` runs.

        Start: k-means++ seeding on log-points, hard assignment, a Dirichlet MLE per cluster.
        M-step: weighted Dirichlet MLE from weighted mean log-points. Stops when the mean
        log-likelihood per point improves by less than tol.
        """
        x = as_points(data)
        n = len(x)
        if not 1 <= k <= n:
            raise BayesmatrixError(f"k must be between 1 and the number of points ({n}), not {k}")
        if restarts < 1:
            raise BayesmatrixError("restarts must be at least 1")
        log_x = np.log(np.maximum(x, ZERO_FLOOR))
        rng = np.random.default_rng(random_state)
        best: DirichletMixture | None = None
        for _ in range(restarts):
            run = cls._em(x, log_x, k, rng, max_iter, tol)
            if best is None or run.fitted().loglik > best.fitted().loglik:
                best = run
        assert best is not None and best.fit_ is not None
        best.fit_ = MixtureFit(
            best.fit_.loglik,
            k * x.shape[1] + k - 1,
            n,
            best.fit_.n_iter,
            best.fit_.converged,
            restarts,
        )
        return best

    @classmethod
    def _em(
        cls,
        x: np.ndarray,
        log_x: np.ndarray,
        k: int,
        rng: np.random.Generator,
        max_iter: int,
        tol: float,
    ) -> DirichletMixture:
        n, dim = x.shape
        resp = np.zeros((n, k))
        resp[np.arange(n), _kmeanspp_labels(log_x, k, rng)] = 1.0
        previous, converged, it = -np.inf, False, 0
        alphas = np.ones((k, dim))
        for it in range(1, max_iter + 1):  # noqa: B007 - it counts iterations after the loop
            nk = resp.sum(0) + 1e-12
            weights = nk / n
            for j in range(k):  # M-step (the first pass doubles as the initial fit)
                stats = resp[:, j] @ log_x / nk[j]
                alphas[j] = Dirichlet.fit_stats(stats, nk[j], start=alphas[j], tol=1e-8).alpha
            mix = cls.__new__(cls)
            mix.weights, mix.alphas, mix.fit_ = weights, alphas.copy(), None
            joint = mix._component_logpdf(x) + np.log(weights)
            norm = logsumexp(joint, axis=1)
            loglik = float(norm.sum())
            resp = np.exp(joint - norm[:, None])
            if loglik - previous < tol * n:
                converged = True
                break
            previous = loglik
        mix.fit_ = MixtureFit(loglik, k * dim + k - 1, n, it, converged, 1)
        return mix

    @classmethod
    def select_k(cls, data: object, k_max: int, **kwargs: Any) -> tuple[DirichletMixture, list]:
        """Fit k = 1..k_max and return the BIC-best mixture and every fit (in order of k);
        kwargs go to `fit`."""
        fits = [cls.fit(data, k, **kwargs) for k in range(1, k_max + 1)]
        return min(fits, key=lambda f: f.fitted().bic), fits


def _kmeanspp_labels(features: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (D^2 sampling) followed by nearest-centre labels."""
    n = len(features)
    centres = [features[rng.integers(n)]]
    dist = ((features - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = dist.sum()
        idx = rng.integers(n) if total <= 0 else rng.choice(n, p=dist / total)
        centres.append(features[idx])
        dist = np.minimum(dist, ((features - features[idx]) ** 2).sum(1))
    c = np.stack(centres)
    d2 = (features**2).sum(1)[:, None] - 2 * features @ c.T + (c**2).sum(1)[None, :]
    labels = d2.argmin(1)
    labels[rng.permutation(n)[:k]] = np.arange(k)  # every component starts with a point
    return labels
