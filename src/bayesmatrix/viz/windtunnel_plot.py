"""Wind-tunnel figures: per-position KL by architecture; model vs exact along one sequence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_kl_by_position(frames: dict[str, pd.DataFrame], task: str) -> Figure:
    """KL(exact || model) in bits at each position, one line per architecture (log scale)."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for arch, frame in frames.items():
        ax.semilogy(
            frame["position"],
            frame["kl_bits"].clip(lower=1e-6),
            "-o",
            ms=2,
            label=f"{arch} (mean {frame['kl_bits'].mean():.4f})",
        )
    ax.set_xlabel("position t")
    ax.set_ylabel("KL(exact || model), bits")
    ax.set_title(f"Wind tunnel '{task}': gap to the exact posterior", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_sequence(
    x: np.ndarray, exact: np.ndarray, models: dict[str, np.ndarray], task: str
) -> Figure:
    """Along one sequence: probability of the token that actually came next, exact vs models."""
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    t = np.arange(len(x))
    ax.plot(t, exact[t, x], "k-", lw=2, label="exact posterior predictive")
    for arch, pred in models.items():
        ax.plot(t, pred[t, x], "--", lw=1.2, label=arch)
    ax.set_xlabel("position t")
    ax.set_ylabel("P(actual x_t | x_<t)")
    ax.set_title(f"Wind tunnel '{task}': one sequence", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
