"""Claim: in-context learning is Bayesian updating. Nested learners (a fixed prior, the
paper's Beta-Bernoulli learner, a discounting one) fitted by likelihood to the LM's label
probabilities under demonstrations whose evidence varies (labels flipped at random, a change
point), compared by likelihood-ratio tests (experiments.icl.analysis); the model comparison of
the Beta-Binomial argument; and the Bayesian scaling law of Arora et al."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from bayesmatrix.claims._icl import (
    BOOTSTRAP,
    SWEEP_SETTINGS,
    consistent,
    sweep,
    sweep_settings,
    task_data,
    units,
)
from bayesmatrix.claims.claim import Claim, Context, N, S, Setting, right_answers
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.icl.analysis import (
    FASTER,
    UPDATING,
    IclAnalysis,
    analyse,
)
from bayesmatrix.experiments.icl.scaling import LAW
from bayesmatrix.experiments.icl.sweep import run_cell
from bayesmatrix.experiments.icl.tasks import Task
from bayesmatrix.experiments.updating import rule_sentence

# demonstrations whose evidence varies, so that forgetting can be told from Bayesian updating:
# the true labels (the paper's setting, and the scaling law's), a quarter flipped at random
# (label noise, Kossen et al. 2024), and the mapping switched halfway (a change point, as
# Gupta et al.'s posterior chains)
DESIGN = ["regular", "flipped:0.25", "flip-half"]


def _run(ctx: Context, tasks: list[Task]) -> IclAnalysis:
    shots = ctx.settings["shots"]
    frame = sweep(ctx, tasks, partial(run_cell, shots=shots), f"shots{shots}")
    return analyse(
        frame, ctx.settings["bootstrap"], 0, ctx.out / "analysis", ctx.progress, ctx.force
    )


def _figures(
    results: Sequence[IclAnalysis], models: Sequence[str], s: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz import plot_kappa, plot_learning_curves

    (analysis,) = results
    curves = [
        (f"curves_{t}", plot_learning_curves(analysis, t)) for t in analysis.fits["task"].unique()
    ]
    return [*curves, ("kappa", plot_kappa(analysis))]


def label_mass_note(results: Sequence[IclAnalysis]) -> str:
    """The label words' share of the raw probability before any demonstration, per model
    and task (printed by every run: a small share means the renormalised readings are
    manufactured confidence)."""
    parts = []
    for result in results:
        for row in result.pooled().itertuples(index=False):
            parts.append(f"{row.model} on {row.task} ({row.condition}) {row.label_mass_k0:.3f}")
    if not parts:
        return ""
    return "label mass at zero shots (the label words' share of the raw row): " + "; ".join(parts)


def _examples() -> list[IclAnalysis]:
    """A Beta-Bernoulli learner (Bayesian by construction) and a forgetting one, read as the
    claim reads an LM."""
    from bayesmatrix.experiments.icl.synthetic import synthetic_cells

    return [
        analyse(synthetic_cells(learner, kappa=k, seeds=6, t=16), bootstrap=10)
        for learner, k in (("beta-bernoulli", 6.0), ("recency", 3.0))
    ]


CLAIM = register(
    Claim(
        name="icl",
        title="In-context learning as Bayesian updating (sentiment)",
        description="the label probabilities follow the Beta-Bernoulli learner, not a "
        "forgetting one, under demonstrations whose evidence varies",
        rules=(
            f"Bayesian updating of the label probabilities, the conditions with the task's "
            f"own label words fitted together: {rule_sentence('icl')}",
            f"the larger model updates faster when both pooled kappas are measurements (no "
            f"drift, fit better than a constant, no forgetting): {FASTER.sentence()}",
            f"the Bayesian scaling law, on conditions of constant evidence: {LAW.sentence()}",
        ),
        scope="models",
        settings={
            **SWEEP_SETTINGS,
            "shots": Setting("demonstrations per context", "int", min=1, max=1000),
            "bootstrap": BOOTSTRAP,
        },
        profiles={
            "test": sweep_settings(3, shots=8, bootstrap=20, conditions=DESIGN),
            "quick": sweep_settings(5, shots=24, bootstrap=50, conditions=DESIGN),
            "full": sweep_settings(10, shots=32, bootstrap=100, conditions=DESIGN),
        },
        run=_run,
        result=IclAnalysis,
        figures=_figures,
        examples=_examples,
        data=task_data,
        note=label_mass_note,
        units=units,
        calibration={
            UPDATING: right_answers(S, N, None),
            LAW: right_answers(S, N, None),
        },
        consistent=lambda s: consistent(s, [s["shots"]]),
        requires=frozenset({"logprobs"}),
        order=30,
        results_page="capabilities/icl.md",
        version=3,
    )
)
