"""Claim: in-context predictives are martingales along the model's own sampled paths, and its
uncertainty shrinks at the Bayesian rate (Falck, Wang & Holmes 2024, on coin flips)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register, validate_figure
from bayesmatrix.experiments.icl.paths import (
    ALPHA,
    DRIFT_TOLERANCE,
    RATE_BAND,
    LMSampler,
    MartingalePathsResult,
    run_paths,
)
from bayesmatrix.results.store import fingerprint


def _run(ctx: Context, _: None) -> MartingalePathsResult:
    s = ctx.settings
    identity = getattr(ctx.load, "identity", lambda m: m)(ctx.model)
    key = fingerprint({"model": identity, "paths": s["paths"], "horizon": s["horizon"]})[:12]
    cells = ctx.out / "cells" / f"paths-{key}"
    frame = run_paths(
        LMSampler(ctx.load(ctx.model)),
        ctx.model,
        s["thetas"],
        s["ns"],
        range(s["seeds"]),
        s["paths"],
        s["horizon"],
        out=cells,
        progress=ctx.progress,
        force=ctx.force,
    )
    return MartingalePathsResult(frame, s["bootstrap"])


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_martingale_paths

    return validate_figure(
        "martingale_paths", plot_martingale_paths(results), "martingale-paths", models
    )


CLAIM = register(
    Claim(
        name="martingale-paths",
        title="Martingale test on sampled coin-flip paths (Falck et al.)",
        description="E[p_n+m] = p_n along the model's own sampled continuations, and its "
        "uncertainty shrinking like a Bayesian learner's",
        rule=f"martingale: not supported when a cell's exact binomial test of the last sampled "
        f"flips rejects E[z_n+m] = p_n at {ALPHA} after Holm or the drift's RMS interval lies "
        f"above {DRIFT_TOLERANCE}; supported when none rejects and it lies below; rate: "
        f"supported when the exponent of var(p_n+m) against n lies within {RATE_BAND} of the "
        "uniform-prior Beta-Bernoulli learner's",
        scope="model",
        profiles={
            "full": {
                "thetas": [0.2, 0.5, 0.8],
                "ns": [8, 16, 32, 64],
                "seeds": 1,
                "paths": 40,
                "horizon": 24,
                "bootstrap": 200,
            }
        },
        run=_run,
        load=MartingalePathsResult.load,
        figures=_figures,
    )
)
