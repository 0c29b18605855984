"""Claim: in-context predictives are martingales (one-step consistency, read from the LM)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmatrix.claims._icl import (
    SWEEP_SETTINGS,
    conditions,
    consistent,
    sweep,
    sweep_settings,
    task_data,
    units,
)
from bayesmatrix.claims.claim import Claim, Context, N, S, exact_only, right_answers
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.icl.martingale import MARTINGALE, MartingaleResult, martingale_gaps
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


def _examples() -> list[MartingaleResult]:
    """Gaps far below the update size (a martingale) and as large as it (not one)."""
    rng = np.random.default_rng(0)

    def result(gap: float) -> MartingaleResult:
        rows = [
            {"model": "m", "task": "t", "condition": "regular", "seed": s, "k": k,
             "a_k": 0.6, "expected_next": 0.6 - g, "gap": g, "update_size": 0.05}
            for s in range(5) for k in KS
            for g in [gap + 0.002 * rng.standard_normal()]
        ]  # fmt: skip
        return MartingaleResult(pd.DataFrame(rows))

    return [result(0.0), result(0.05)]


CLAIM = register(
    Claim(
        name="martingale",
        title="In-context predictives as martingales (one-step check)",
        description="a_k equals the expected next predictive under the LM's own predictive",
        rules=(MARTINGALE,),
        scope="models",
        settings=SWEEP_SETTINGS,
        profiles={
            "test": sweep_settings(2, conditions=["regular"]),
            "quick": sweep_settings(2),
            "full": sweep_settings(5),
        },
        run=_run,
        result=MartingaleResult,
        figures=lambda results, models, settings: [],
        examples=_examples,
        data=task_data,
        units=units,
        calibration={
            MARTINGALE: exact_only(right_answers(S, N, S)),
        },
        consistent=lambda s: consistent(s, [max(KS) + 1]),
        requires=frozenset({"logprobs"}),
        order=40,
        results_page="capabilities/icl.md",
    )
)
