"""Claim: one forward pass's answer-row entropy flags wrong answers as well as semantic entropy
over sampled answers (Farquhar et al. 2024), the field's anchor for hallucination detection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register, validate_figure
from bayesmatrix.experiments.semantic_entropy import (
    MARGIN,
    SemanticEntropyResult,
    run_semantic_entropy,
)


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.questions import load_facts

    facts = load_facts(settings["facts"])
    return facts[: settings["questions"]] if settings["questions"] else facts


def _run(ctx: Context, facts: list) -> SemanticEntropyResult:
    s = ctx.settings
    return run_semantic_entropy(
        ctx.load(ctx.model), facts, s["samples"], s["max_new_tokens"], s["temperature"]
    )


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_risk_coverage

    return validate_figure("risk_coverage", plot_risk_coverage(results), "semantic-entropy", models)


def _settings(questions: int | None, samples: int) -> dict[str, Any]:
    return {"facts": None, "questions": questions, "samples": samples} | {
        "max_new_tokens": 12,
        "temperature": 1.0,
    }


CLAIM = register(
    Claim(
        name="semantic-entropy",
        title="Hallucination signals against semantic entropy",
        description="single-pass row entropy against semantic entropy of sampled answers",
        rule=f"supported when the 95% paired-bootstrap interval of AUROC(semantic entropy) - "
        f"AUROC(row entropy) lies below {MARGIN}, not supported above it; answers clustered "
        "by normalised string (no NLI model offline)",
        scope="model",
        profiles={"full": _settings(None, 10)},
        run=_run,
        load=SemanticEntropyResult.load,
        figures=_figures,
        data=_data,
    )
)
