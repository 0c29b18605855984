"""Claim: in-context predictives are martingales (one-step consistency, read from the LM)."""

from __future__ import annotations

from bayesmatrix.claims.icl import conditions, sweep, sweep_settings, task_data
from bayesmatrix.claims.registry import Claim, Context, register
from bayesmatrix.experiments.icl.martingale import (
    RELATIVE_TOLERANCE,
    MartingaleResult,
    martingale_gaps,
)
from bayesmatrix.experiments.icl.tasks import Task

KS = (0, 1, 2, 4, 8, 16)


def _run(ctx: Context, tasks: list[Task]) -> MartingaleResult:
    usable = [c for c in conditions(ctx.settings) if c.name != "random"]  # no fixed mapping
    gaps = sweep(
        ctx,
        tasks,
        lambda lm, t, c, s: martingale_gaps(lm, t, c, s, KS),
        "martingale-k" + "-".join(map(str, KS)),
        usable,
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
        profiles={"full": sweep_settings(5)},
        run=_run,
        load=MartingaleResult.load,
        figures=lambda results, models, s: [],
        data=task_data,
    )
)
