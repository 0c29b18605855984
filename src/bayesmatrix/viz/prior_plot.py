"""Figures for Theorem 2: held-out NLL against k, and prior vs mixture on the 2-simplex."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from bayesmatrix.bayes import DirichletMixture

if TYPE_CHECKING:
    from bayesmatrix.experiments.prior_approx import PriorApproxResult

_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


def to_triangle(points: np.ndarray) -> np.ndarray:
    """Barycentric [n, 3] -> 2-D coordinates in an equilateral triangle."""
    return np.asarray(points) @ _CORNERS


def plot_heldout_nll(result: PriorApproxResult) -> Figure:
    """Held-out NLL per point against k (± 2 s.e.), with the true prior's NLL when known."""
    frame = result.frame
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    ax.errorbar(
        frame["k"],
        frame["heldout_nll"],
        yerr=2 * frame["heldout_nll_se"],
        fmt="-o",
        capsize=3,
        label="Dirichlet mixture, held out",
    )
    ax.plot(frame["k"], frame["train_nll"], "--", color="grey", label="training")
    if "gap_to_truth" in frame:
        truth = (frame["heldout_nll"] - frame["gap_to_truth"]).iloc[0]
        ax.axhline(truth, color="tab:green", ls=":", label="true prior, held out")
    ax.axvline(result.best_k, color="tab:red", alpha=0.3, lw=6, label=f"best k = {result.best_k}")
    ax.set_xlabel("mixture components k")
    ax.set_ylabel("NLL per point (nats)")
    ax.set_title(f"Theorem 2 on '{result.source}' (V={result.meta['V']})", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_simplex(samples: np.ndarray, mixture: DirichletMixture, n_grid: int = 120) -> Figure:
    """V=3: prior samples (left) next to the fitted mixture's log-density (right)."""
    if samples.shape[1] != 3 or mixture.k != 3:
        raise ValueError("the simplex picture needs V = 3")
    fig = Figure(figsize=(9, 4))
    left, right = fig.subplots(1, 2)
    xy = to_triangle(samples)
    left.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4)
    left.set_title("samples from the prior", fontsize=9)
    u = np.linspace(0, 1, n_grid)
    a, b = np.meshgrid(u, u)
    c = 1 - a - b
    inside = (c > 1e-3) & (a > 1e-3) & (b > 1e-3)
    grid = np.stack([a[inside], b[inside], c[inside]], axis=1)
    density = mixture.logpdf(grid)
    gxy = to_triangle(grid)
    levels = np.quantile(density, np.linspace(0.05, 0.995, 14))
    right.tricontourf(gxy[:, 0], gxy[:, 1], density, levels=levels, cmap="viridis", extend="both")
    right.set_title(f"fitted mixture, k={mixture.m} (log-density)", fontsize=9)
    for ax in (left, right):
        ax.plot(*np.vstack([_CORNERS, _CORNERS[:1]]).T, color="black", lw=0.8)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig
