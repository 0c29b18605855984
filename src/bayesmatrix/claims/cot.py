"""Claim: chain of thought moves the model into low-entropy rows that favour the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.cot import CotResult, run_cot


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.questions import load_problems

    return load_problems(settings["problems"])


def _run(ctx: Context, problems: list) -> CotResult:
    return run_cot(ctx.load(ctx.model), problems)


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_cot

    flags = " ".join(f"--model {m}" for m in models)
    extra = f" --problems {s['problems']}" if s["problems"] else ""
    return [ClaimFigure("cot", plot_cot(results), f"bayesmatrix cot {flags}{extra}")]


CLAIM = register(
    Claim(
        name="cot",
        title="Chain of thought moves the model into low-entropy rows",
        description="with the steps, the answer row has lower entropy and more answer mass",
        rule="supported when the entropy change's 95% interval is below 0 and the change in "
        "log P(answer) is above 0; not supported when either lies on the wrong side",
        scope="model",
        profiles={p: {"problems": None} for p in ("test", "quick", "full")},
        run=_run,
        load=CotResult.load,
        figures=_figures,
        data=_data,
    )
)
