"""Wind-tunnel figures: per-position KL by architecture; model vs exact along one sequence;
the training curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.windtunnel.curve import CurveFit


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


def plot_training_curve(
    curves: dict[str, pd.DataFrame],
    task: str,
    fit: CurveFit | None = None,
    target: float | None = None,
) -> Figure:
    """Per architecture, the KL at the trained positions against training steps (log-log; the
    training loss where the task has no soft targets), with the fitted power law extended to
    `target` when both are given."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    soft = all(c["kl_bits"].notna().any() for c in curves.values())
    column, label = ("kl_bits", "KL(target || model), bits") if soft else ("loss", "loss, nats")
    for arch, curve in curves.items():
        ax.loglog(curve["step"], curve[column].clip(lower=1e-6), "-", lw=1.2, label=arch)
    if fit is not None and target is not None:
        end = min(fit.steps_to(target)[0], 1e9)
        steps = np.geomspace(fit.first_step, max(end, fit.last_step), 50)
        ax.loglog(
            steps,
            fit.predict(steps),
            "k--",
            lw=1,
            label=f"fit: step^-{fit.exponent:.2f} (R² {fit.r2:.2f})",
        )
        ax.axhline(target, color="tab:red", lw=1, ls=":", label=f"target {target:g} bits")
    ax.set_xlabel("training step")
    ax.set_ylabel(label)
    ax.set_title(f"Wind tunnel '{task}': training curve", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
