"""Claim (Theorem 2): finite Dirichlet mixtures approximate the prior over the model's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.prior_approx import PriorApproxResult, approximate_prior, lm_rows


def _data(settings: Mapping[str, Any]) -> str:
    from bayesmatrix.data import stdlib_docs

    return stdlib_docs(max_chars=40 * settings["n"])


def _run(ctx: Context, text: str) -> PriorApproxResult:
    s = ctx.settings
    points = lm_rows(ctx.load(ctx.model), text, s["V"], s["n"])
    cut = 2 * s["n"] // 3  # contiguous: rows of neighbouring positions stay on one side
    return approximate_prior(points[:cut], points[cut:], s["k_max"], "lm")


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_heldout_nll

    return [
        ClaimFigure(
            f"prior-{m}",
            plot_heldout_nll(r),
            f"bayesmatrix prior approx --source lm --model {m} --V {s['V']} --n {s['n']} "
            f"--k-max {s['k_max']}",
        )
        for m, r in zip(models, results, strict=True)
    ]


CLAIM = register(
    Claim(
        name="prior",
        title="Theorem 2: Dirichlet mixtures approximate the prior over rows",
        description="k-component Dirichlet mixtures beat one Dirichlet on held-out rows",
        rule="supported when the best held-out k > 1 and its gain over k = 1 has a 95% "
        "bootstrap interval above 0; not supported when k = 1 is best or the interval is below 0",
        scope="model",
        profiles={
            "test": {"V": 3, "n": 300, "k_max": 2},
            "quick": {"V": 3, "n": 1500, "k_max": 5},
            "full": {"V": 3, "n": 3000, "k_max": 6},
        },
        run=_run,
        load=PriorApproxResult.load,
        figures=_figures,
        data=_data,
    )
)
