"""Claim: in-context learning is exchangeable after averaging over demonstration orderings
(Chlon et al. 2025), measured with K orderings per cell at several n."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims._icl import (
    BOOTSTRAP,
    SWEEP_SETTINGS,
    consistent,
    sweep,
    sweep_settings,
    task_data,
    units,
)
from bayesmatrix.claims.claim import Claim, Context, N, S, Setting, exact_only, right_answers
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.icl.order import AVERAGED, GAP_FALLS, OrderResult, order_cell
from bayesmatrix.experiments.icl.tasks import Task

# labels flipped at random: under constant evidence (every label true, or every one flipped)
# every learner that counts agreements is exchangeable, and order effects cannot show
VARYING = ["flipped:0.25"]


def _run(ctx: Context, tasks: list[Task]) -> OrderResult:
    s = ctx.settings
    ns, k = tuple(s["ns"]), s["orderings"]
    cell = partial(order_cell, ns=ns, orderings=k)
    readings = sweep(ctx, tasks, cell, f"order-n{'-'.join(map(str, ns))}-k{k}-true")
    return OrderResult(readings, s["bootstrap"])


def plot_order_effects(results: Sequence[OrderResult]) -> Figure:
    """Left: the expectation-realisation gap of the query predictive against n (log-log, mean
    over seeds with their range), per model and condition. Right: the spread of a k-ordering
    average against k, beside what independent orderings give."""
    from bayesmatrix.experiments.icl.order import KEYS, averaging_curve

    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    for r in results:
        gaps, curve = r.gaps(), averaging_curve(r.readings)
        for key, g in gaps.groupby(KEYS, sort=False):
            label = f"{key[0]} {key[1]} ({key[2]})"
            by_n = g.groupby("n")["gap_p"]
            mean = by_n.mean()
            (line,) = left.plot(mean.index, mean.to_numpy(), marker="o", label=label)
            color = line.get_color()
            left.fill_between(mean.index, by_n.min(), by_n.max(), color=color, alpha=0.15)
            c = curve.loc[(curve[KEYS] == pd.Series(dict(zip(KEYS, key, strict=True)))).all(axis=1)]
            right.plot(c["k"], c["spread"], marker="o", color=color, label=label)
            if len(c):
                one = c["spread"].iloc[0] / c["expected"].iloc[0]
                right.plot(c["k"], one * c["expected"], ls=":", color=color)
    for ax, xlabel, ylabel in (
        (left, "demonstrations n", "mean |P_ordering - P_average| (query)"),
        (right, "orderings averaged k", "spread of the k-average (dotted: independent)"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("symlog", linthresh=1e-4)  # a learner with no order effect sits at 0
        ax.set_ylim(bottom=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
    left.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def _examples() -> list[OrderResult]:
    """The exact Beta-Bernoulli learner (exchangeable) and a forgetting one (not)."""
    from bayesmatrix.experiments.icl.synthetic import synthetic_orderings

    return [OrderResult(synthetic_orderings(decay), bootstrap=50) for decay in (1.0, 0.6)]


CLAIM = register(
    Claim(
        name="icl-order",
        title="Order effects: exchangeable after averaging over orderings (Chlon et al.)",
        description="the ordering-to-average gap falls with n and averaging K orderings "
        "removes the order effect",
        rules=(GAP_FALLS, AVERAGED, "a learner with no order effect at all is supported"),
        scope="models",
        settings={
            **SWEEP_SETTINGS,
            "ns": Setting("demonstration counts n read", "list[int]", min=1, max=1000),
            "orderings": Setting("orderings K per n", "int", min=2, max=1000),
            "bootstrap": BOOTSTRAP,
        },
        profiles={
            "test": sweep_settings(2, ns=[2, 4], orderings=3, bootstrap=50, conditions=VARYING),
            "quick": sweep_settings(
                2, ns=[4, 8, 16], orderings=4, bootstrap=100, conditions=VARYING
            ),
            "full": sweep_settings(
                5, ns=[4, 8, 16, 32], orderings=8, bootstrap=200, conditions=VARYING
            ),
        },
        run=_run,
        result=OrderResult,
        figures=lambda results, models, s: [("order_effects", plot_order_effects(results))],
        examples=_examples,
        data=task_data,
        units=units,
        calibration={
            GAP_FALLS: exact_only(right_answers(S, N, S)),
        },
        consistent=lambda s: consistent(s, [max(s["ns"]) + 1]),
        requires=frozenset({"logprobs"}),
        order=60,
        results_page="capabilities/icl.md",
    )
)
