"""What the ICL claims share (icl, martingale, icl-order): their sweep's settings and data,
and one sweep call whose cells resume under the claim's folder. Not a claim module."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bayesmatrix.bayes.stats import MAX_BOOTSTRAP
from bayesmatrix.claims.claim import Context, Setting
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.sweep import (
    SUL_WORDS,
    Condition,
    check_cell,
    parse_condition,
    run_sweep,
)
from bayesmatrix.experiments.icl.tasks import FORMATS, Task, get_task

SWEEP_SETTINGS: dict[str, Setting] = {
    "tasks": Setting("shipped task names or .jsonl files", "list[str]"),
    "conditions": Setting(
        "regular, flipped[:fraction], sul, random, flip-half (comma list)", "list[str]"
    ),
    "sul_words": Setting("semantically unrelated label words for the sul condition", "list[str]"),
    "seeds": Setting("seeded demonstration orders per cell", "int", min=1, max=1000),
    "first_seed": Setting(
        "the first seed (seeds first_seed .. first_seed+seeds-1)", "int", min=0, max=10**6
    ),
    "format": Setting(
        "how tasks are put to the model: instructed (the task's instruction naming the label "
        "words, and its template) or plain (Input:/Output:, no instruction; bayesmatrix 0.3.0)",
        "str",
        choices=FORMATS,
    ),
}
BOOTSTRAP = Setting("bootstrap resamples for intervals", "int", min=0, max=MAX_BOOTSTRAP)


def task_data(settings: Mapping[str, Any]) -> list[Task]:
    """The ICL tasks the settings name, in the settings' format (the data of every ICL
    claim)."""
    return [get_task(t).formatted(settings["format"]) for t in settings["tasks"]]


def conditions(settings: Mapping[str, Any]) -> list[Condition]:
    """The settings' conditions, parsed with their unrelated label words."""
    return [parse_condition(c, settings["sul_words"]) for c in settings["conditions"]]


def consistent(settings: Mapping[str, Any], shots: Sequence[int] = ()) -> None:
    """Refuse, before any work, a sweep that counts something twice under two spellings (a
    condition as `flipped` and `flipped:1`, one task file under two paths) or has a cell that
    cannot run (`shots` demonstrations of a task, a condition a task cannot take)."""
    seen: dict[Condition, str] = {}
    for text, condition in zip(settings["conditions"], conditions(settings), strict=True):
        if condition in seen:
            raise BayesmatrixError(
                f"conditions {seen[condition]} and {text} are one condition given twice; "
                "give it once"
            )
        seen[condition] = text
    tasks: dict[str, str] = {}
    for name, task in zip(settings["tasks"], task_data(settings), strict=True):
        if task.digest in tasks:
            raise BayesmatrixError(
                f"tasks {tasks[task.digest]} and {name} are one task given twice; give it once"
            )
        tasks[task.digest] = name
        for condition in seen:
            for n in shots or (1,):
                check_cell(task, condition, n)


def units(settings: Mapping[str, Any], models: int) -> int:
    """The cells of a sweep on `models` models (each counted once in progress)."""
    return models * len(settings["tasks"]) * len(settings["conditions"]) * settings["seeds"]


def sweep_settings(seeds: int, **more: Any) -> dict[str, Any]:
    """The sweep every ICL claim runs (sentiment; regular, flipped and unrelated labels) with
    its seeds and the claim's own settings."""
    return {
        "tasks": ["sentiment"],
        "conditions": ["regular", "flipped", "sul"],
        "sul_words": list(SUL_WORDS),
        "seeds": seeds,
        "first_seed": 0,
        "format": "instructed",
        **more,
    }


def sweep(
    ctx: Context,
    tasks: list[Task],
    cell: Callable[..., Any],
    kind: str,
    usable: Sequence[Condition] | None = None,
) -> Any:
    """One ICL claim's cells (run_sweep): every model, task, condition (or `usable`) and seed,
    each resumable under the claim's folder."""
    return run_sweep(
        ctx.models,
        tasks,
        conditions(ctx.settings) if usable is None else usable,
        range(ctx.settings["first_seed"], ctx.settings["first_seed"] + ctx.settings["seeds"]),
        ctx.out,
        ctx.load_model,
        cell=cell,
        kind=kind,
        progress=ctx.progress,
        executor=ctx.executor,
        force=ctx.force,
    )
