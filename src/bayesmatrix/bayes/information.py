"""Information quantities of discrete distributions along the last axis, in nats (base=None)
or any base (base=2: bits), stable at zeros: 0 log 0 = 0, and a zero where the reference
distribution has mass is floored at FLOOR (a large finite penalty instead of inf).

One module for every entropy, cross-entropy, KL and total variation in the toolkit.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-300  # log(q) is taken of max(q, FLOOR)
# probabilities are kept inside [EPS, 1 - EPS] in binary cross-entropies (fits of learners)
EPS = 1e-9


def _scale(values: np.ndarray, base: float | None) -> np.ndarray:
    return values / np.log(base) if base else values


def _xlogy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p * log(max(q, FLOOR)), and 0 wherever p == 0."""
    return np.where(p > 0, p * np.log(np.maximum(q, FLOOR)), 0.0)


def entropy(p: np.ndarray, base: float | None = None) -> np.ndarray:
    """H(p) = -sum p log p over the last axis."""
    p = np.asarray(p, dtype=np.float64)
    return _scale(-_xlogy(p, p).sum(axis=-1), base)


def cross_entropy(p: np.ndarray, q: np.ndarray, base: float | None = None) -> np.ndarray:
    """H(p, q) = -sum p log q over the last axis."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return _scale(-_xlogy(p, q).sum(axis=-1), base)


def kl(p: np.ndarray, q: np.ndarray, base: float | None = None) -> np.ndarray:
    """KL(p || q) = sum p (log p - log q) over the last axis."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return _scale((_xlogy(p, p) - _xlogy(p, q)).sum(axis=-1), base)


def tv(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total variation distance, half the L1 distance, over the last axis."""
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


def binary_cross_entropy(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Elementwise -(q log p + (1 - q) log(1 - p)) in nats, with p kept inside [EPS, 1 - EPS]:
    the loss of predicting P(outcome) = p when the observed probability is q."""
    p = np.clip(p, EPS, 1 - EPS)
    return -(q * np.log(p) + (1 - q) * np.log1p(-p))


def binary_entropy(q: np.ndarray) -> np.ndarray:
    """Elementwise entropy (nats) of Bernoulli(q), clipped as binary_cross_entropy."""
    return binary_cross_entropy(q, q)
