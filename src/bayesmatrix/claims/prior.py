"""Claim (Theorem 2): finite Dirichlet mixtures approximate the prior over the model's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.prior_approx import (
    GAIN,
    PriorApproxResult,
    approximate_prior,
    lm_rows,
)


def _data(settings: Mapping[str, Any]) -> str:
    from bayesmatrix.data import stdlib_docs

    return stdlib_docs(max_chars=40 * settings["n"])


def _run(ctx: Context, text: str) -> PriorApproxResult:
    s = ctx.settings
    points = lm_rows(ctx.load_model(ctx.model), text, s["V"], s["n"])
    cut = 2 * s["n"] // 3  # contiguous: rows of neighbouring positions stay on one side
    return approximate_prior(points[:cut], points[cut:], s["k_max"], "lm")


def _examples() -> list[PriorApproxResult]:
    """Rows from two well-separated Dirichlets (a mixture wins) and from one (k = 1 wins)."""
    rng = np.random.default_rng(0)
    two = np.concatenate([rng.dirichlet([20, 2, 2], 300), rng.dirichlet([2, 2, 20], 300)])[
        rng.permutation(600)
    ]
    one = rng.dirichlet([3, 3, 3], 600)
    return [approximate_prior(x[:400], x[400:], 3, "example") for x in (two, one)]


def _figures(
    results: Sequence[PriorApproxResult], models: Sequence[str], s: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz import plot_heldout_nll

    return [(f"prior-{m}", plot_heldout_nll(r)) for m, r in zip(models, results, strict=False)]


CLAIM = register(
    Claim(
        name="prior",
        title="Theorem 2: Dirichlet mixtures approximate the prior over rows",
        description="k-component Dirichlet mixtures beat one Dirichlet on held-out rows",
        rules=(
            f"the best held-out k is above 1 and {GAIN.sentence()}",
            "not supported when k = 1 is best",
        ),
        scope="model",
        settings={
            "V": Setting(
                "top-V tokens of each row (the simplex's dimension)", "int", min=2, max=64
            ),
            "n": Setting("rows: 2/3 train, 1/3 held out", "int", min=30, max=1_000_000),
            "k_max": Setting("largest mixture size", "int", min=2, max=50),
        },
        profiles={
            "test": {"V": 3, "n": 300, "k_max": 2},
            "quick": {"V": 3, "n": 1500, "k_max": 5},
            "full": {"V": 3, "n": 3000, "k_max": 6},
        },
        run=_run,
        result=PriorApproxResult,
        figures=_figures,
        examples=_examples,
        data=_data,
        requires=frozenset({"full_rows"}),
        order=20,
        results_page="capabilities/theorem2.md",
    )
)
