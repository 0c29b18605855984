"""Claim: predictive entropy lies along one axis of the last-layer states, and that axis is a
readout, not a bottleneck (Agarwal, Dalal & Misra, Paper III), on the authors' SULA protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayesmatrix.bayes.stats import MAX_BOOTSTRAP
from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.geometry import (
    DECODABLE,
    READOUT,
    GeometryResult,
    analyse_geometry,
    constructed_states,
    run_sula_geometry,
)


def _run(ctx: Context, _: None) -> GeometryResult:
    s = ctx.settings
    return run_sula_geometry(ctx.load_model(ctx.model), s["per_k"], s["bootstrap"], s["seed"])


def _examples() -> list[GeometryResult]:
    """States whose head reads the entropy axis itself (a bottleneck: decodable, not a
    readout) and states whose head reads another direction (decodable and a readout)."""
    out = []
    for read_axis, big_axis in ((0, 0), (0, 1)):
        h, readout, _ = constructed_states(read_axis, big_axis)
        p = readout(h)
        exact = -(p * np.log2(p)).sum(1)
        numbers, pc1, _ = analyse_geometry(h, readout, exact, bootstrap=100)
        frame = pd.DataFrame(
            {
                "position": np.arange(len(h)) % 8,
                "pc1": pc1,
                "entropy": exact,
                "bayes_entropy": exact,
            }
        )
        out.append(
            GeometryResult(f"constructed ({read_axis}, {big_axis})", "windtunnel", frame, numbers)
        )
    return out


def _figures(
    results: Sequence[GeometryResult], models: Sequence[str], s: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz import plot_geometry

    return [("geometry", plot_geometry(results))]


CLAIM = register(
    Claim(
        name="geometry",
        title="The geometry of Bayesian inference: an entropy axis that is a readout (SULA)",
        description="PC1 of the last-layer states tracks predictive entropy, and projecting it "
        "out leaves the Bayesian error unchanged",
        rules=(f"decodable: {DECODABLE.sentence()}", f"readout: {READOUT.sentence()}"),
        scope="model",
        settings={
            "per_k": Setting("SULA prompts per demonstration count k", "int", min=3, max=10_000),
            "bootstrap": Setting("bootstrap resamples", "int", min=0, max=MAX_BOOTSTRAP),
            "seed": Setting("random seed", "int", min=0, max=10**6),
        },
        profiles={
            "test": {"per_k": 6, "bootstrap": 100, "seed": 42},
            "quick": {"per_k": 20, "bootstrap": 500, "seed": 42},
            "full": {"per_k": 50, "bootstrap": 1000, "seed": 42},
        },
        run=_run,
        result=GeometryResult,
        figures=_figures,
        examples=_examples,
        requires=frozenset({"hidden_states"}),
        order=120,
        results_page="capabilities/entropy.md",
    )
)
