"""Shared figure plumbing: a non-interactive backend and one way to write files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from bayesmatrix.errors import BayesmatrixError

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_figure_path(path: Path) -> None:
    """Refuse a figure path that cannot be written, before any work is done."""
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise BayesmatrixError(
            f"cannot write a figure to {path}: the name must end in {', '.join(FIGURE_SUFFIXES)}"
        )
    if path.is_dir():
        raise BayesmatrixError(f"{path} is a directory; give a figure file name such as fig.png")


def save_figure(fig: Figure, path: str | Path, dpi: int = 130) -> Path:
    """Write a figure (format from the suffix: .png, .svg, .pdf) whole, and return its path."""
    import io

    from bayesmatrix.results.io import write_bytes

    out = Path(path)
    check_figure_path(out)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, bbox_inches="tight", format=out.suffix.lower().lstrip("."))
    return write_bytes(out, buffer.getvalue())


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (what Jupyter shows)."""
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def show_figures_in_jupyter() -> None:
    """In a Jupyter kernel, show a returned figure as a picture (bayesmatrix's figures are
    made without pyplot, so IPython would print only their repr); elsewhere nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
