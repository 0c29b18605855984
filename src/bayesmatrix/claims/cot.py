"""Claim: chain of thought moves the model into low-entropy rows that favour the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.cot import ANSWER_RISES, ENTROPY_FALLS, CotResult, run_cot


def _data(settings: Mapping[str, Any]) -> list:
    from bayesmatrix.data.qa import load_problems

    return load_problems(settings["problems"])


def _run(ctx: Context, problems: list) -> CotResult:
    return run_cot(ctx.load_model(ctx.model), problems)


def plot_cot(results: Sequence[CotResult]) -> Figure:
    """Answer-row entropy without (x) and with (y) the intermediate steps, one point per
    problem; points below the diagonal moved into lower-entropy rows."""
    fig = Figure(figsize=(4.4, 4.2))
    ax = fig.subplots()
    top = 0.0
    for r in results:
        wide = r.frame.pivot(index="question", columns="with_steps", values="entropy_bits")
        ax.scatter(wide[False], wide[True], s=12, alpha=0.7, label=r.model)
        top = max(top, float(wide.to_numpy().max()))
    ax.plot([0, top], [0, top], ":", color="grey")
    ax.set_xlabel("answer-row entropy without steps (bits)")
    ax.set_ylabel("with steps (bits)")
    ax.set_title("Chain of thought", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _examples() -> list[CotResult]:
    """Steps that lower the answer row's entropy and raise P(answer), and steps that do the
    opposite."""
    rng = np.random.default_rng(0)

    def result(sign: float) -> CotResult:
        rows = [
            {"question": f"q{i}", "answer": "a", "with_steps": steps,
             "entropy_bits": 3.0 - sign * steps + 0.1 * rng.standard_normal(),
             "logprob_answer": -2.0 + sign * steps + 0.1 * rng.standard_normal(),
             "p_first_answer_token": 0.3, "correct": steps}
            for i in range(20) for steps in (False, True)
        ]  # fmt: skip
        return CotResult("m", pd.DataFrame(rows))

    return [result(1.0), result(-1.0)]


CLAIM = register(
    Claim(
        name="cot",
        title="Chain of thought moves the model into low-entropy rows",
        description="with the steps, the answer row has lower entropy and more answer mass",
        rules=(ENTROPY_FALLS, ANSWER_RISES),
        scope="model",
        settings={
            "problems": Setting("problems JSONL (none: the shipped file)", "str", optional=True)
        },
        profiles={p: {"problems": None} for p in ("test", "quick", "full")},
        run=_run,
        result=CotResult,
        figures=lambda results, models, s: [("cot", plot_cot(results))],
        examples=_examples,
        data=_data,
        requires=frozenset({"full_rows", "logprobs"}),
        order=90,
        results_page="capabilities/entropy.md",
    )
)
