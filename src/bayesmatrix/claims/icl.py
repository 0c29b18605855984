"""Claim: in-context learning is Bayesian updating (fitted prior strength kappa, learners
compared on held-out seeds, and the model comparison of the Beta-Binomial argument)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.experiments.icl import SUL_WORDS, Condition, parse_condition, run_cell, run_sweep
from bayesmatrix.experiments.icl_analysis import NO_UPDATE_KAPPA, TIE_NATS, IclAnalysis, analyse
from bayesmatrix.experiments.icl_scaling import TIE_RMSE
from bayesmatrix.experiments.icl_tasks import Task, get_task


def task_data(settings: Mapping[str, Any]) -> list[Task]:
    """The ICL tasks the settings name (the data of every ICL claim)."""
    return [get_task(t) for t in settings["tasks"]]


def conditions(settings: Mapping[str, Any]) -> list[Condition]:
    """The settings' conditions, parsed with their unrelated label words."""
    return [parse_condition(c, settings["sul_words"]) for c in settings["conditions"]]


def _run(ctx: Context, tasks: list[Task]) -> IclAnalysis:
    s = ctx.settings
    shots = s["shots"]
    frame = run_sweep(
        ctx.models,
        tasks,
        conditions(s),
        range(s["seeds"]),
        ctx.out,
        ctx.load,
        cell=partial(run_cell, shots=shots),
        kind=f"shots{shots}",
        progress=ctx.progress,
        executor=ctx.executor,
    )
    return analyse(frame, bootstrap=s["bootstrap"])


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


def _settings(shots: int, seeds: int, bootstrap: int) -> dict:
    return {
        "tasks": ["sentiment"],
        "conditions": ["regular", "flipped", "sul"],
        "sul_words": list(SUL_WORDS),
        "shots": shots,
        "seeds": seeds,
        "bootstrap": bootstrap,
    }


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
        "kappa interval lies wholly below the smaller model's; the Bayesian scaling law is "
        f"supported when its held-out RMSE minus the power law's lies below {TIE_RMSE}",
        scope="models",
        profiles={
            "test": _settings(8, 3, 20),
            "quick": _settings(24, 5, 50),
            "full": _settings(32, 10, 100),
        },
        run=_run,
        load=IclAnalysis.load,
        figures=_figures,
        data=task_data,
    )
)
