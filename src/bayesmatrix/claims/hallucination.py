"""Claim: diffuse (high-entropy) answer rows signal wrong answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.hallucination import HallucinationResult, run_hallucination


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.questions import load_facts

    return load_facts(settings["facts"])


def _run(ctx: Context, facts: list) -> HallucinationResult:
    return run_hallucination(ctx.load(ctx.model), facts)


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_hallucination

    flags = " ".join(f"--model {m}" for m in models)
    extra = f" --facts {s['facts']}" if s["facts"] else ""
    return [
        ClaimFigure(
            "hallucination",
            plot_hallucination(results),
            f"bayesmatrix hallucination {flags}{extra}",
        )
    ]


CLAIM = register(
    Claim(
        name="hallucination",
        title="Diffuse rows signal hallucinations",
        description="low answer-row entropy tells right answers from wrong ones (AUROC)",
        rule="supported when the AUROC's 95% bootstrap interval lies above 0.5, not supported "
        "below it; inconclusive when all answers are right or all wrong",
        scope="model",
        profiles={p: {"facts": None} for p in ("test", "quick", "full")},
        run=_run,
        load=HallucinationResult.load,
        figures=_figures,
        data=_data,
    )
)
