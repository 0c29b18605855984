"""Priors over multinomials that are not finite Dirichlet mixtures, for testing Theorem 2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import multivariate_normal

from bayesmatrix.bayes.validation import as_points
from bayesmatrix.errors import BayesmatrixError


@dataclass(frozen=True)
class LogisticNormal:
    """x = softmax([z, 0]) with z ~ N(mu, cov) in K-1 dimensions (additive logistic normal).

    Its density on the simplex is exact: N(log(x_:-1 / x_K); mu, cov) / prod_k x_k.
    """

    mu: np.ndarray
    cov: np.ndarray

    @classmethod
    def random(cls, k: int, scale: float = 1.5, seed: int = 0) -> LogisticNormal:
        """A correlated logistic normal with random mean and covariance (for experiments)."""
        if k < 2:
            raise BayesmatrixError("k must be at least 2")
        rng = np.random.default_rng(seed)
        a = rng.normal(size=(k - 1, k - 1))
        cov = scale**2 * (a @ a.T / (k - 1) + 0.2 * np.eye(k - 1))
        return cls(rng.normal(scale=scale, size=k - 1), cov)

    @property
    def k(self) -> int:
        return len(self.mu) + 1

    def rvs(self, size: int, random_state: int | np.random.Generator | None = None) -> np.ndarray:
        rng = np.random.default_rng(random_state)
        z = rng.multivariate_normal(self.mu, self.cov, size=size)
        z = np.concatenate([z, np.zeros((size, 1))], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def logpdf(self, x: object) -> np.ndarray:
        pts = as_points(x, self.k)
        log_x = np.log(np.maximum(pts, 1e-300))
        y = log_x[:, :-1] - log_x[:, -1:]
        return multivariate_normal(self.mu, self.cov).logpdf(y).reshape(-1) - log_x.sum(axis=1)


@dataclass(frozen=True)
class SpikyPrior:
    """A sparse, spiky prior: mass on 1-2 random categories (Dirichlet(1) between them),
    blended with a little Dirichlet(1) noise: x = (1 - eps) * spike + eps * noise."""

    k: int
    eps: float = 0.05

    def rvs(self, size: int, random_state: int | np.random.Generator | None = None) -> np.ndarray:
        if self.k < 2 or not 0 < self.eps < 1:
            raise BayesmatrixError("SpikyPrior needs k >= 2 and 0 < eps < 1")
        rng = np.random.default_rng(random_state)
        out = np.empty((size, self.k))
        for i in range(size):
            support = rng.choice(self.k, size=rng.integers(1, 3), replace=False)
            spike = np.zeros(self.k)
            spike[support] = rng.dirichlet(np.ones(len(support)))
            out[i] = (1 - self.eps) * spike + self.eps * rng.dirichlet(np.ones(self.k))
        return out
