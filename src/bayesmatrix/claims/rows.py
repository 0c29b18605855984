"""Claim: the instrumented rows are the model's rows (the self-check the others rest on)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.rows import MATCHES, RowsCheck, check_rows

PROMPT = "The capital of France is Paris. The capital of Italy is"


def _run(ctx: Context, _: None) -> RowsCheck:
    return check_rows(ctx.load_model(ctx.model), ctx.settings["prompt"])


def _figures(
    results: Sequence[RowsCheck], models: Sequence[str], settings: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz import plot_trace

    return [(f"trace-{r.model}", plot_trace(r.trace)) for r in results]


def _examples() -> list[RowsCheck]:
    """Rows equal to float noise (supported) and rows off by 1e-2 (not)."""
    from bayesmatrix.models.trace import Trace

    n = 4
    trace = Trace(
        "m", np.arange(n), ["The", " cat", " sat", " on"], False, np.log([0.2, 0.5, 0.3, 1.0]),
        np.full(n, 1.5), np.zeros((n, 1), int), np.full((n, 1), 0.5, np.float32),
        [["a"]] * n,
    )  # fmt: skip

    def check(diff: float) -> RowsCheck:
        frame = pd.DataFrame({"position": range(n), "max_abs_diff": diff, "sum_error": 1e-7})
        return RowsCheck("m", 10, frame, trace)

    return [check(1e-6), check(1e-2)]


CLAIM = register(
    Claim(
        name="rows",
        title="Instrumented rows of the next-token matrix",
        description="traced rows equal separate forward passes, one per prefix",
        rules=(MATCHES,),
        scope="model",
        settings={"prompt": Setting("the prompt traced", "str")},
        profiles={p: {"prompt": PROMPT} for p in ("test", "quick", "full")},
        run=_run,
        result=RowsCheck,
        figures=_figures,
        examples=_examples,
        requires=frozenset({"full_rows"}),
        order=10,
        results_page="capabilities/models.md",
    )
)
