"""The atlas's size figure: each rule's key estimate against the model's parameter count."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.viz import common  # noqa: F401  (the non-interactive backend)

STATUS_COLOURS = {"supported": "#1e8e3e", "not supported": "#d93025", "inconclusive": "#b07d00"}


def plot_size(table: pd.DataFrame, columns: int = 3) -> Figure | None:
    """Small multiples, one per verdict measured on at least two models of known size:
    estimate with its 95% interval (drawn where known) against parameters (log scale),
    coloured by verdict; None when no verdict qualifies."""
    sized = table[table["parameters"].notna() & table["estimate"].notna()]
    keys = [k for k, g in sized.groupby(["claim", "key"], sort=False) if g["model"].nunique() >= 2]
    if not keys:
        return None
    rows = math.ceil(len(keys) / columns)
    fig = Figure(figsize=(4.2 * min(columns, len(keys)), 3.0 * rows))
    for i, (claim, key) in enumerate(keys):
        ax = fig.add_subplot(rows, min(columns, len(keys)), i + 1)
        g = sized[(sized["claim"] == claim) & (sized["key"] == key)].sort_values("parameters")
        for _, r in g.iterrows():
            colour = STATUS_COLOURS.get(r["status"], "grey")
            if pd.notna(r["lo"]) and pd.notna(r["hi"]):
                ax.plot([r["parameters"]] * 2, [r["lo"], r["hi"]], color=colour, lw=1.5)
            ax.plot(r["parameters"], r["estimate"], "o", color=colour)
            ax.annotate(r["model"], (r["parameters"], r["estimate"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
        if g["threshold"].notna().any():
            ax.axhline(float(g["threshold"].dropna().iloc[0]), color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_title(key if len(key) <= 60 else key[:57] + "...", fontsize=8)
    fig.tight_layout()
    return fig
