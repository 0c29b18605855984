"""Claim: one forward pass's answer-row entropy flags wrong answers as well as semantic entropy
over sampled answers (Farquhar et al. 2024), the field's anchor for hallucination detection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.semantic_entropy import (
    AS_GOOD,
    SemanticEntropyResult,
    run_semantic_entropy,
)


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.qa import load_facts

    facts = load_facts(settings["facts"])
    return facts[: settings["questions"]] if settings["questions"] else facts


def _run(ctx: Context, facts: list) -> SemanticEntropyResult:
    s = ctx.settings
    return run_semantic_entropy(
        ctx.load_model(ctx.model), facts, s["samples"], s["max_new_tokens"], s["temperature"]
    )


def plot_risk_coverage(results: Sequence[SemanticEntropyResult]) -> Figure:
    """Risk (error rate among the answered) against coverage for each hallucination signal:
    semantic entropy over sampled answers against single-pass signals, one panel per model
    and condition."""
    from bayesmatrix.experiments.semantic_entropy import SIGNALS, risk_coverage

    panels = [(r, c, g) for r in results for c, g in r.frame.groupby("with_context")]
    fig = Figure(figsize=(4.2 * max(1, len(panels)), 3.8))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(panels))))
    for ax, (r, with_context, g) in zip(axes, panels, strict=False):
        y = g["correct"].to_numpy()
        coverage = np.arange(1, len(y) + 1) / len(y)
        for signal, sign in SIGNALS.items():
            risk, area = risk_coverage(sign * g[signal].to_numpy(), y)
            ax.plot(coverage, risk, label=f"{signal.replace('_', ' ')} (AURC {area:.3f})")
        ax.axhline(1 - y.mean(), ls=":", color="grey", lw=0.8)
        ax.set_xlabel("coverage (most confident first)")
        ax.set_ylabel("risk (error rate)")
        ax.set_title(f"{r.model}, {'with' if with_context else 'no'} fact", fontsize=9)
        ax.legend(fontsize=6, frameon=False)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _examples() -> list[SemanticEntropyResult]:
    """Row entropy as good a signal as semantic entropy, and much worse than it."""
    rng = np.random.default_rng(0)

    def result(row_noise: float) -> SemanticEntropyResult:
        correct = np.arange(80) % 2 == 0
        semantic = 1.5 - correct + 0.2 * rng.standard_normal(80)
        row = 1.5 - correct + row_noise * rng.standard_normal(80)
        frame = pd.DataFrame(
            {"question": [f"q{i}" for i in range(80)], "answer": "a", "with_context": False,
             "greedy": "a", "correct": correct, "semantic_entropy": semantic,
             "naive_entropy": semantic, "row_entropy": row, "top1_prob": np.exp(-row),
             "sampled_passes": 10.0}
        )  # fmt: skip
        return SemanticEntropyResult("m", frame)

    return [result(0.2), result(5.0)]


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
        rules=(AS_GOOD, "answers clustered by normalised string (no NLI model offline)"),
        scope="model",
        settings={
            "facts": Setting("facts JSONL (none: the shipped file)", "str", optional=True),
            "questions": Setting(
                "questions used (none: all)", "int", min=2, max=100_000, optional=True
            ),
            "samples": Setting("answers sampled per question", "int", min=2, max=1000),
            "max_new_tokens": Setting("tokens per sampled answer", "int", min=1, max=512),
            "temperature": Setting("sampling temperature", "float", min=1e-3, max=10),
        },
        profiles={
            "test": _settings(8, 4) | {"max_new_tokens": 8},
            "quick": _settings(20, 5),
            "full": _settings(None, 10),
        },
        run=_run,
        result=SemanticEntropyResult,
        figures=lambda results, models, s: [("risk_coverage", plot_risk_coverage(results))],
        examples=_examples,
        data=_data,
        requires=frozenset({"sampling"}),
        order=110,
        results_page="capabilities/entropy.md",
    )
)
