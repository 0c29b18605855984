"""Claim (Theorem 3): more specific prompts give more concentrated rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.entropy import EntropyResult, run_entropy


def _data(settings: Mapping[str, Any]) -> tuple:
    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.data.questions import load_facts
    from bayesmatrix.experiments.icl.tasks import get_task

    text = stdlib_docs(max_chars=settings["text_chars"])
    return text, get_task(settings["task"]), load_facts(settings["facts"])


def _run(ctx: Context, data: tuple) -> EntropyResult:
    text, task, facts = data
    return run_entropy(ctx.load(ctx.model), text, task, facts, n=ctx.settings["n"])


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_entropy

    flags = " ".join(f"--model {m}" for m in models)
    extra = "" if s["task"] == "sentiment" else f" --task {s['task']}"
    extra += f" --facts {s['facts']}" if s["facts"] else ""
    return [
        ClaimFigure(
            "entropy", plot_entropy(results), f"bayesmatrix entropy {flags} --n {s['n']}{extra}"
        )
    ]


CLAIM = register(
    Claim(
        name="entropy",
        title="Theorem 3: more specific prompts concentrate rows",
        description="entropy falls (and rows majorize) as context, examples or facts are added",
        rule="per source: supported when the mean entropy change's 95% interval is below 0 and "
        "the share of pairs where entropy falls has a Wilson interval above 0.5",
        scope="model",
        profiles={
            p: {"n": n, "task": "sentiment", "facts": None, "text_chars": 300_000}
            for p, n in (("test", 10), ("quick", 40), ("full", 60))
        },
        run=_run,
        load=EntropyResult.load,
        figures=_figures,
        data=_data,
    )
)
