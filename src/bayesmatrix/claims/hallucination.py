"""Claim: diffuse (high-entropy) answer rows signal wrong answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.hallucination import (
    SIGNALS_WRONG,
    HallucinationResult,
    run_hallucination,
)


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.qa import load_facts

    return load_facts(settings["facts"])


def _run(ctx: Context, facts: list) -> HallucinationResult:
    return run_hallucination(ctx.load_model(ctx.model), facts)


def plot_hallucination(results: Sequence[HallucinationResult]) -> Figure:
    """ROC curves of low answer-row entropy as a detector of right answers."""
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    for r in results:
        for with_context, g in r.frame.groupby("with_context"):
            y = g["correct"].to_numpy()
            if y.all() or not y.any():
                continue
            order = np.argsort(g["entropy_bits"].to_numpy())
            tpr = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
            fpr = np.concatenate([[0], np.cumsum(~y[order]) / (~y).sum()])
            ax.plot(fpr, tpr, label=f"{r.model}, {'with' if with_context else 'no'} fact")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Low entropy as a signal of a right answer", fontsize=9)
    ax.legend(fontsize=6, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _examples() -> list[HallucinationResult]:
    """Right answers from low-entropy rows (the signal works) and from high-entropy ones."""
    rng = np.random.default_rng(0)

    def result(sign: float) -> HallucinationResult:
        correct = np.arange(60) % 2 == 0
        entropy = 2.0 - sign * correct + 0.3 * rng.standard_normal(60)
        frame = pd.DataFrame(
            {"question": [f"q{i}" for i in range(60)], "answer": "a", "with_context": False,
             "entropy_bits": entropy, "top1_prob": 1 / (1 + np.exp(entropy - 2)),
             "p_answer_first_token": 0.3, "correct": correct}
        )  # fmt: skip
        return HallucinationResult("m", frame)

    return [result(1.0), result(-1.0)]


CLAIM = register(
    Claim(
        name="hallucination",
        title="Diffuse rows signal hallucinations",
        description="low answer-row entropy tells right answers from wrong ones (AUROC)",
        rules=(SIGNALS_WRONG, "inconclusive when all answers are right or all wrong"),
        scope="model",
        settings={"facts": Setting("facts JSONL (none: the shipped file)", "str", optional=True)},
        profiles={p: {"facts": None} for p in ("test", "quick", "full")},
        run=_run,
        result=HallucinationResult,
        figures=lambda results, models, s: [("hallucination", plot_hallucination(results))],
        examples=_examples,
        data=_data,
        requires=frozenset({"full_rows"}),
        order=100,
        results_page="capabilities/entropy.md",
    )
)
