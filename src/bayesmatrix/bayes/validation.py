"""Input checks shared by the Bayesian core: clear ValueErrors that name the problem."""

from __future__ import annotations

import numpy as np

from bayesmatrix.errors import BayesmatrixError

SIMPLEX_TOL = 1e-6


def as_alpha(alpha: object, name: str = "alpha") -> np.ndarray:
    """A 1-D float array of at least two positive finite Dirichlet parameters (alpha)."""
    a = np.asarray(alpha, dtype=float)
    if a.ndim != 1 or a.size < 2:
        raise BayesmatrixError(
            f"{name} must be a 1-D array of at least 2 values, got shape {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise BayesmatrixError(f"{name} contains NaN or inf: {a}")
    if np.any(a <= 0):
        raise BayesmatrixError(
            f"{name} must be positive; non-positive entries at {np.where(a <= 0)[0]}"
        )
    return a


def check_points(
    points: object, k: int | None = None, tol: float = SIMPLEX_TOL
) -> tuple[np.ndarray, np.ndarray]:
    """Validate [n, K] points on the simplex without copying: finite, >= -tol, rows summing
    to 1 within tol. Returns the float array (2-D) and its row sums."""
    x = np.asarray(points, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise BayesmatrixError(f"points must be a non-empty [n, K>=2] array, got shape {x.shape}")
    if k is not None and x.shape[1] != k:
        raise BayesmatrixError(f"points have {x.shape[1]} categories, the distribution has {k}")
    sums = x.sum(axis=1)  # NaN/inf anywhere shows up in the row sums: one pass, not two
    if not np.all(np.isfinite(sums)):
        raise BayesmatrixError("points contain NaN or inf")
    low = x.min()
    if low < -tol:
        raise BayesmatrixError(f"points have negative coordinates (min {low:.3g})")
    off = np.abs(sums - 1) > tol
    if np.any(off):
        i = int(np.argmax(off))
        raise BayesmatrixError(
            f"point {i} sums to {sums[i]:.9g}, off the simplex by more than {tol:g}; "
            "normalise rows to sum to 1"
        )
    if low < 0:
        x = np.clip(x, 0, None)
        sums = x.sum(axis=1)
    return x, sums


def as_points(points: object, k: int | None = None, tol: float = SIMPLEX_TOL) -> np.ndarray:
    """Validated [n, K] points, renormalised to sum to 1 exactly (see check_points)."""
    x, sums = check_points(points, k, tol)
    return x / sums[:, None]


def as_counts(counts: object, k: int | None = None) -> np.ndarray:
    """Non-negative finite counts, [K] or [n, K] (returned as given dimension)."""
    c = np.asarray(counts, dtype=float)
    if c.ndim not in (1, 2) or c.size == 0:
        raise BayesmatrixError(f"counts must be a non-empty [K] or [n, K] array, got {c.shape}")
    if k is not None and c.shape[-1] != k:
        raise BayesmatrixError(f"counts have {c.shape[-1]} categories, the distribution has {k}")
    if not np.all(np.isfinite(c)):
        raise BayesmatrixError("counts contain NaN or inf")
    if np.any(c < 0):
        raise BayesmatrixError("counts must be non-negative")
    return c
