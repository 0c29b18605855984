"""The instrumented-LM picture: tokens along x, top-k next tokens per position, entropy above."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bayesmatrix.models.trace import Trace


def _label(token: str, width: int = 10) -> str:
    text = token.replace("\n", "\\n").replace("\t", "\\t").replace("$", r"\$")
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_trace(trace: Trace, max_positions: int = 48) -> Figure:
    """Top panel: entropy (bits) of each row and surprisal of the actual next token.
    Bottom panel: the top-k next tokens at each position, shaded by probability; the actual
    next token is outlined when it is among them. Long traces show their first positions."""
    n = min(len(trace), max_positions)
    k = trace.top_k
    fig = Figure(figsize=(max(8.0, 0.95 * n), 3.2 + 0.45 * k))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, k * 0.45]})
    x = np.arange(n)
    top.plot(x, trace.entropy_bits[:n], "-o", color="tab:blue", ms=3, label="entropy of row (bits)")
    top.plot(
        x,
        trace.surprisal_bits[:n],
        "s",
        color="tab:red",
        ms=3,
        label="surprisal of actual next token (bits)",
    )
    top.set_ylabel("bits")
    top.grid(alpha=0.3)
    top.legend(loc="upper right", fontsize=7, frameon=False)
    top.set_title(f"{trace.model}: next-token rows along the prompt", fontsize=10)
    probs = trace.topk_probs[:n].T
    bottom.imshow(
        probs, aspect="auto", cmap="Blues", vmin=0, vmax=1, extent=(-0.5, n - 0.5, k - 0.5, -0.5)
    )
    next_ids = np.append(trace.token_ids[1:], -1)
    for i in range(n):
        for r in range(k):
            p = probs[r, i]
            bottom.text(
                i,
                r,
                f"{_label(trace.topk_tokens[i][r], 8)}\n{p:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if p > 0.55 else "black",
            )
            if trace.topk_ids[i, r] == next_ids[i]:
                bottom.add_patch(
                    Rectangle((i - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=1.5)
                )
    bottom.set_yticks(range(k), [f"top {r + 1}" for r in range(k)], fontsize=7)
    bottom.set_xticks(x, [_label(t) for t in trace.tokens[:n]], rotation=60, ha="right", fontsize=7)
    bottom.set_xlabel("input token (row = distribution of the token after it)")
    fig.tight_layout()
    return fig
