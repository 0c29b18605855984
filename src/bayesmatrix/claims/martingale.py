"""Claim: in-context predictives are martingales (one-step consistency, read from the LM)."""

from __future__ import annotations

from bayesmatrix.claims.icl import conditions, task_data
from bayesmatrix.claims.registry import Claim, Context, register
from bayesmatrix.experiments.icl import SUL_WORDS, run_sweep
from bayesmatrix.experiments.icl_martingale import (
    RELATIVE_TOLERANCE,
    MartingaleResult,
    martingale_gaps,
)
from bayesmatrix.experiments.icl_tasks import Task

KS = (0, 1, 2, 4, 8, 16)


def _run(ctx: Context, tasks: list[Task]) -> MartingaleResult:
    usable = [c for c in conditions(ctx.settings) if c.name != "random"]  # no fixed mapping
    gaps = run_sweep(
        ctx.models,
        tasks,
        usable,
        range(ctx.settings["seeds"]),
        ctx.out,
        ctx.load,
        cell=lambda lm, t, c, s: martingale_gaps(lm, t, c, s, KS),
        kind="martingale-k" + "-".join(map(str, KS)),
        progress=ctx.progress,
        executor=ctx.executor,
    )
    return MartingaleResult(gaps)


CLAIM = register(
    Claim(
        name="martingale",
        title="In-context predictives as martingales (one-step check)",
        description="a_k equals the expected next predictive under the LM's own predictive",
        rule=f"supported when the mean |gap|'s 95% interval lies below {RELATIVE_TOLERANCE} of "
        "the mean update size, not supported when above it",
        scope="models",
        profiles={
            "full": {
                "tasks": ["sentiment"],
                "conditions": ["regular", "flipped", "sul"],
                "sul_words": list(SUL_WORDS),
                "seeds": 5,
            }
        },
        run=_run,
        load=MartingaleResult.load,
        figures=lambda results, models, s: [],
        data=task_data,
    )
)
