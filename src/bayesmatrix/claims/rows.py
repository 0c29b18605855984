"""Claim: the instrumented rows are the model's rows (the self-check the others rest on)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.rows import TOLERANCE, RowsCheck, check_rows

PROMPT = "The capital of France is Paris. The capital of Italy is"


def _run(ctx: Context, _: None) -> RowsCheck:
    return check_rows(ctx.load(ctx.model), ctx.settings["prompt"])


def _figures(
    results: Sequence[Any], models: Sequence[str], settings: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_trace

    return [
        ClaimFigure(
            f"trace-{r.model}",
            plot_trace(r.trace),
            f'bayesmatrix trace {r.model} "{settings["prompt"]}" --plot trace-{r.model}.png',
        )
        for r in results
    ]


CLAIM = register(
    Claim(
        name="rows",
        title="Instrumented rows of the next-token matrix",
        description="traced rows equal separate forward passes, one per prefix",
        rule=f"supported when the largest |difference| in probability is below {TOLERANCE}",
        scope="model",
        profiles={p: {"prompt": PROMPT} for p in ("test", "quick", "full")},
        run=_run,
        load=RowsCheck.load,
        figures=_figures,
    )
)
