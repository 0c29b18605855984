"""Claim (Theorem 3): more specific prompts give more concentrated rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.entropy import FALLS, MOSTLY, EntropyResult, run_entropy


def _data(settings: Mapping[str, Any]) -> tuple:
    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.data.qa import load_facts
    from bayesmatrix.experiments.icl.tasks import get_task

    text = stdlib_docs(max_chars=settings["text_chars"])
    return text, get_task(settings["task"]), load_facts(settings["facts"])


def _run(ctx: Context, data: tuple) -> EntropyResult:
    text, task, facts = data
    return run_entropy(ctx.load_model(ctx.model), text, task, facts, n=ctx.settings["n"])


def plot_entropy(results: Sequence[EntropyResult]) -> Figure:
    """Fraction of comparisons where entropy falls and where majorization holds, with 95%
    Wilson intervals, per source of specificity and model."""
    fig = Figure(figsize=(8, 3.4))
    ax = fig.subplots()
    rows = [row for r in results for row in r.summary().itertuples(index=False)]
    x = np.arange(len(rows))
    for offset, key, color in ((-0.18, "falls", "tab:blue"), (0.18, "majorizes", "tab:orange")):
        values = np.array([getattr(row, key) for row in rows])
        ci = np.array([getattr(row, f"{key}_ci") for row in rows])
        ax.bar(
            x + offset,
            values,
            width=0.34,
            color=color,
            alpha=0.8,
            label="entropy falls" if key == "falls" else "more specific row majorizes",
        )
        ax.errorbar(
            x + offset,
            values,
            yerr=[values - ci[:, 0], ci[:, 1] - values],
            fmt="none",
            color="black",
            capsize=2,
        )
    ax.axhline(0.5, color="grey", ls=":")
    ax.set_xticks(x, [f"{row.model}\n{row.source}" for row in rows], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of pairs")
    ax.set_title("Theorem 3: do more specific prompts concentrate the row?", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def _examples() -> list[EntropyResult]:
    """Entropy that falls in most pairs, and entropy that rises."""
    rng = np.random.default_rng(0)

    def result(delta: float, falls: bool) -> EntropyResult:
        frame = pd.DataFrame(
            {
                "source": "context", "item": [f"i{i}" for i in range(40)], "step": "s",
                "entropy_less": 3.0, "entropy_more": 3.0 + delta,
                "delta_bits": delta + 0.05 * rng.standard_normal(40),
                "falls": falls, "majorizes": falls,
            }
        )  # fmt: skip
        return EntropyResult("m", frame)

    return [result(-0.5, True), result(0.5, False)]


CLAIM = register(
    Claim(
        name="entropy",
        title="Theorem 3: more specific prompts concentrate rows",
        description="entropy falls (and rows majorize) as context, examples or facts are added",
        rules=(f"per source: {FALLS.sentence()}", f"and {MOSTLY.sentence()}"),
        scope="model",
        settings={
            "n": Setting("comparisons per source", "int", min=2, max=10_000),
            "task": Setting("ICL task of the 'more examples' comparison", "str"),
            "facts": Setting("facts JSONL (none: the shipped file)", "str", optional=True),
            "text_chars": Setting(
                "characters of prose for the 'more context' pairs",
                "int",
                min=1000,
                max=10_000_000,
            ),
        },
        profiles={
            p: {"n": n, "task": "sentiment", "facts": None, "text_chars": 300_000}
            for p, n in (("test", 10), ("quick", 40), ("full", 60))
        },
        run=_run,
        result=EntropyResult,
        figures=lambda results, models, s: [("entropy", plot_entropy(results))],
        examples=_examples,
        data=_data,
        requires=frozenset({"full_rows"}),
        order=80,
        results_page="capabilities/entropy.md",
    )
)
