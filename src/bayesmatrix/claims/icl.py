"""Claim: in-context learning is Bayesian updating (fitted prior strength kappa, learners
compared on held-out seeds, and the model comparison of the Beta-Binomial argument)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.icl.analysis import NO_UPDATE_KAPPA, TIE_NATS, IclAnalysis, analyse
from bayesmatrix.experiments.icl.scaling import TIE_RMSE
from bayesmatrix.experiments.icl.sweep import (
    SUL_WORDS,
    Condition,
    parse_condition,
    run_cell,
    run_sweep,
)
from bayesmatrix.experiments.icl.tasks import Task, get_task


def task_data(settings: Mapping[str, Any]) -> list[Task]:
    """The ICL tasks the settings name (the data of every ICL claim)."""
    return [get_task(t) for t in settings["tasks"]]


def conditions(settings: Mapping[str, Any]) -> list[Condition]:
    """The settings' conditions, parsed with their unrelated label words."""
    return [parse_condition(c, settings["sul_words"]) for c in settings["conditions"]]


def sweep_settings(seeds: int, **more: Any) -> dict[str, Any]:
    """The sweep every ICL claim runs (sentiment; regular, flipped and unrelated labels) with
    its seeds and the claim's own settings."""
    return {
        "tasks": ["sentiment"],
        "conditions": ["regular", "flipped", "sul"],
        "sul_words": list(SUL_WORDS),
        "seeds": seeds,
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
        range(ctx.settings["seeds"]),
        ctx.out,
        ctx.load,
        cell=cell,
        kind=kind,
        progress=ctx.progress,
        executor=ctx.executor,
        force=ctx.force,
    )


def _run(ctx: Context, tasks: list[Task]) -> IclAnalysis:
    shots = ctx.settings["shots"]
    frame = sweep(ctx, tasks, partial(run_cell, shots=shots), f"shots{shots}")
    return analyse(
        frame, ctx.settings["bootstrap"], 0, ctx.out / "analysis", ctx.progress, ctx.force
    )


def command(models: Sequence[str], s: Mapping[str, Any]) -> str:
    """The `bayesmatrix icl` command line of these settings."""
    flags = " ".join(f"--model {m}" for m in models)
    tasks = " ".join(f"--task {t}" for t in s["tasks"])
    words = "" if tuple(s["sul_words"]) == SUL_WORDS else f" --sul-words {','.join(s['sul_words'])}"
    return (
        f"bayesmatrix icl {flags} {tasks} --conditions {','.join(s['conditions'])}{words} "
        f"--shots {s['shots']} --seeds {s['seeds']} --bootstrap {s['bootstrap']}"
    )


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_kappa, plot_learning_curves

    (analysis,) = results
    cmd = command(models, s)
    figures = [
        ClaimFigure(f"curves_{t}", plot_learning_curves(analysis, t), cmd)
        for t in analysis.fits["task"].unique()
    ]
    return [*figures, ClaimFigure("kappa", plot_kappa(analysis), cmd)]


CLAIM = register(
    Claim(
        name="icl",
        title="In-context learning as Bayesian updating (sentiment)",
        description="label-word curves fit Bayesian learners at least as well as forgetting",
        rule=f"not supported when a forgetting learner (not Beta-Bernoulli itself) predicts "
        f"held-out seeds better by more than {TIE_NATS} nats/demo and kappa's interval stays "
        f"below {NO_UPDATE_KAPPA:g}; inconclusive without measurable updating, when the "
        "Beta-Bernoulli fit or the carrying learner is worse than a constant (R^2 <= 0), when "
        "the rules disagree, or without intervals; the larger model updates faster when its "
        "kappa interval lies wholly below the smaller model's and both Beta-Bernoulli fits beat "
        "a constant; the Bayesian scaling law is "
        f"supported when its held-out RMSE minus the power law's lies below {TIE_RMSE}",
        scope="models",
        profiles={
            "test": sweep_settings(3, shots=8, bootstrap=20),
            "quick": sweep_settings(5, shots=24, bootstrap=50),
            "full": sweep_settings(10, shots=32, bootstrap=100),
        },
        run=_run,
        load=IclAnalysis.load,
        figures=_figures,
        data=task_data,
    )
)
