"""Ideal-matrix figures: an LM's distance to the corpus matrix against the matched suffix length,
and the perplexity of their mixtures."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def plot_matrix_comparison(by_matched: pd.DataFrame, mixture: pd.DataFrame, title: str) -> Figure:
    """Mean KL (bits, +-1 s.e.) in both directions by the length of the longest context suffix
    the corpus has seen (the last bin holds that length and longer); right: the mixtures."""
    fig = Figure(figsize=(9, 3.6))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    x = by_matched["matched"]
    for col, label in (("kl_matrix_lm", "KL(matrix || LM)"), ("kl_lm_matrix", "KL(LM || matrix)")):
        ax.errorbar(
            x,
            by_matched[col],
            yerr=by_matched[f"{col}_se"].fillna(0),
            fmt="-o",
            ms=3,
            capsize=2,
            label=label,
        )
    ax.set_xlabel("matched context suffix (tokens; last bin = that or more)")
    ax.set_ylabel("bits per position")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    twin = ax.twinx()
    twin.bar(x, by_matched["positions"], alpha=0.12, color="grey")
    twin.set_ylabel("positions", fontsize=7, color="grey")
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    bx.plot(mixture["lambda"], mixture["ppl"], "-o", ms=3)
    bx.set_yscale("log")
    bx.set_xlabel("weight of the matrix in the mixture")
    bx.set_ylabel("perplexity")
    bx.set_title("LM (0) to matrix (1)", fontsize=9)
    bx.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
