"""The entropy geometry figure (the geometry claim and `windtunnel geometry`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bayesmatrix.experiments.geometry import GeometryResult


def plot_geometry(results: Sequence[GeometryResult]) -> Figure:
    """Left: the model's two-label entropy and the Bayes-optimal one against the number of
    demonstrations k (SULA) or the position (wind tunnels). Right: PC1 of the last-layer
    states against the model's entropy, per model."""
    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    for r in results:
        curve = r.by_k()
        key = curve.columns[0]
        (line,) = left.plot(curve[key], curve["entropy"], marker="o", label=f"{r.model}")
        left.plot(curve[key], curve["bayes_entropy"], ls=":", color=line.get_color())
        if "pc1" in r.frame:
            right.scatter(r.frame["pc1"], r.frame["entropy"], s=6, alpha=0.5, label=r.model)
    left.set_xlabel("demonstrations k" if key == "k" else "position")
    left.set_ylabel("entropy, bits (dotted: Bayes-optimal)", fontsize=8)
    right.set_xlabel("PC1 of last-layer states")
    right.set_ylabel("model entropy, bits")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
