"""Claim (Theorem 1): the map from embeddings to rows is continuous (and, as the paper
assumes, preserves convexity); nearby embeddings give nearby rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.continuity import (
    CONVEX,
    NEIGHBOURS,
    SLOPE,
    ContinuityResult,
    run_continuity,
)


def _data(_: Mapping[str, Any]) -> str:
    from bayesmatrix.data import stdlib_docs

    return stdlib_docs(max_chars=300_000)


def _run(ctx: Context, text: str) -> ContinuityResult:
    s = ctx.settings
    return run_continuity(
        ctx.load_model(ctx.model),
        text,
        s["layer"],
        n_prompts=s["prompts"],
        n_bank=s["bank"],
        k=s["k"],
    )


def plot_continuity(results: Sequence[ContinuityResult]) -> Figure:
    """Left: median TV between rows against the relative perturbation eps (log-log), with a
    slope-1 guide. Right: TV(row at the mixed embedding, mixed row) / TV(p1, p2) by lambda."""
    fig = Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    for r in results:
        label = f"{r.model}, layer {r.layer}"
        med = r.perturbation.groupby("eps")["tv"].median()
        left.loglog(med.index, med.values, "-o", ms=3, label=label)
        rel = r.interpolation.groupby("lambda")["relative"].agg(["mean", "sem"])
        right.errorbar(
            rel.index,
            rel["mean"],
            yerr=2 * rel["sem"].fillna(0),
            fmt="-o",
            ms=3,
            capsize=2,
            label=label,
        )
    eps = np.logspace(-4, 0, 5)
    left.loglog(eps, eps * 0.5, ":", color="grey", label="slope 1")
    left.set_xlabel("relative perturbation eps")
    left.set_ylabel("median TV(p(h), p(h + delta))")
    left.set_title("Continuity (Theorem 1)", fontsize=9)
    right.axhline(0, color="black", lw=0.5)
    right.set_xlabel("lambda")
    right.set_ylabel("TV to the mixed row / TV(p1, p2)")
    right.set_title("Convexity preservation (assumption)", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def _examples() -> list[ContinuityResult]:
    """Rows that move as eps (slope 1), mix convexly and are predicted by neighbours, and rows
    that barely move, mix far from convexly and are not."""
    rng = np.random.default_rng(1)
    eps = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])

    def result(slope: float, gap: float, gain: float) -> ContinuityResult:
        rows = [
            {"prompt": p, "direction": d, "eps": e, "tv": e**slope * (1 + 0.01 * rng.random()),
             "kl": e, "delta_norm": e}
            for p in range(6) for d in range(2) for e in eps
        ]  # fmt: skip
        interpolation = pd.DataFrame(
            {
                "pair": np.arange(12) % 4,
                "lambda": 0.5,
                "relative": gap + 0.01 * rng.standard_normal(12),
            }
        )
        neighbours = pd.DataFrame(
            {
                "position": np.arange(12),
                "kl_knn": 1.0 - gain + 0.01 * rng.standard_normal(12),
                "kl_random_k": np.ones(12),
                "kl_unigram": np.full(12, 2.0),
            }
        )
        return ContinuityResult("m", -1, pd.DataFrame(rows), interpolation, neighbours)

    return [result(1.0, 0.02, 0.3), result(0.01, 0.5, -0.3)]


def _settings(prompts: int, bank: int) -> dict[str, Any]:
    return {"layer": -1, "prompts": prompts, "bank": bank, "k": 8}


CLAIM = register(
    Claim(
        name="continuity",
        title="Theorem 1: continuity of the embedding-to-row map",
        description="rows move continuously with the embedding; neighbours predict rows",
        rules=(
            f"continuity: {SLOPE.sentence()}",
            f"convexity: {CONVEX.sentence()}",
            f"neighbours: {NEIGHBOURS.sentence()}",
        ),
        scope="model",
        settings={
            "layer": Setting(
                "hidden-state index (-1: the last; negative counts back)",
                "int",
                min=-1000,
                max=1000,
            ),
            "prompts": Setting(
                "positions perturbed and pairs interpolated", "int", min=2, max=10_000
            ),
            "bank": Setting("neighbour bank size", "int", min=2, max=100_000),
            "k": Setting("neighbours averaged", "int", min=1, max=1000),
        },
        profiles={
            "test": _settings(8, 40),
            "quick": _settings(32, 300),
            "full": _settings(48, 400),
        },
        run=_run,
        result=ContinuityResult,
        figures=lambda results, models, s: [("continuity", plot_continuity(results))],
        examples=_examples,
        data=_data,
        requires=frozenset({"hidden_states"}),
        order=70,
        results_page="capabilities/entropy.md",
    )
)
