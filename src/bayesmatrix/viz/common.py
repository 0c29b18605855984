"""Shared figure plumbing: a non-interactive backend and one way to write files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure


def save_figure(fig: Figure, path: str | Path, dpi: int = 130) -> Path:
    """Write a figure (format from the suffix: .png, .svg, .pdf) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    return out
