"""Claim: predictive entropy lies along one axis of the last-layer states, and that axis is a
readout, not a bottleneck (Agarwal, Dalal & Misra, Paper III), on the authors' SULA protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register, validate_figure
from bayesmatrix.experiments.geometry import (
    DECODABLE_RHO,
    READOUT_BITS,
    GeometryResult,
    run_sula_geometry,
)


def _run(ctx: Context, _: None) -> GeometryResult:
    s = ctx.settings
    return run_sula_geometry(ctx.load(ctx.model), s["per_k"], s["bootstrap"], s["seed"])


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_geometry

    return validate_figure("geometry", plot_geometry(results), "geometry", models)


CLAIM = register(
    Claim(
        name="geometry",
        title="The geometry of Bayesian inference: an entropy axis that is a readout (SULA)",
        description="PC1 of the last-layer states tracks predictive entropy, and projecting it "
        "out leaves the Bayesian error unchanged",
        rule=f"decodable: supported when Spearman(PC1, model entropy) has a 95% interval above "
        f"{DECODABLE_RHO}, not supported below it; readout: supported when the change in "
        f"Bayesian error from projecting PC1 out lies within +-{READOUT_BITS} bits, not "
        "supported when wholly outside",
        scope="model",
        profiles={"full": {"per_k": 50, "bootstrap": 1000, "seed": 42}},
        run=_run,
        load=GeometryResult.load,
        figures=_figures,
    )
)
