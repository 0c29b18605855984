"""Claim (Theorem 1): the map from embeddings to rows is continuous (and, as the paper
assumes, preserves convexity); nearby embeddings give nearby rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.continuity import (
    CONVEXITY_TOLERANCE,
    ContinuityResult,
    run_continuity,
)


def _data(_: Mapping[str, Any]) -> str:
    from bayesmatrix.data import stdlib_docs

    return stdlib_docs(max_chars=300_000)


def _run(ctx: Context, text: str) -> ContinuityResult:
    s = ctx.settings
    return run_continuity(
        ctx.load(ctx.model), text, s["layer"], n_prompts=s["prompts"], n_bank=s["bank"], k=s["k"]
    )


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_continuity

    flags = " ".join(f"--model {m}" for m in models)
    return [
        ClaimFigure(
            "continuity",
            plot_continuity(results),
            f"bayesmatrix continuity {flags} --layers {s['layer']} --prompts {s['prompts']} "
            f"--bank {s['bank']}" + (f" --k {s['k']}" if s["k"] != 8 else ""),
        )
    ]


def _settings(prompts: int, bank: int) -> dict:
    return {"layer": -1, "prompts": prompts, "bank": bank, "k": 8}


CLAIM = register(
    Claim(
        name="continuity",
        title="Theorem 1: continuity of the embedding-to-row map",
        description="rows move continuously with the embedding; neighbours predict rows",
        rule="continuity: log-log slope of TV against eps above 0.5 (95% lower bound), not "
        f"supported below 0.1; convexity: the mixed-embedding gap below {CONVEXITY_TOLERANCE}; "
        "neighbours: the gain over random positions above 0",
        scope="model",
        profiles={
            "test": _settings(8, 40),
            "quick": _settings(32, 300),
            "full": _settings(48, 400),
        },
        run=_run,
        load=ContinuityResult.load,
        figures=_figures,
        data=_data,
    )
)
