"""ICL figures: learning curves with the fitted learners, and kappa and decay per fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.analysis import IclAnalysis


def plot_learning_curves(analysis: IclAnalysis, task: str) -> Figure:
    """One panel per (model, condition): P(true label) against the demonstrations seen (mean
    over seeds, 95% bootstrap band), the fitted Beta-Bernoulli and discounting curves, and
    the zero-shot prior."""
    curves = analysis.curves[analysis.curves["task"] == task]
    models = list(dict.fromkeys(curves["model"]))
    conditions = list(dict.fromkeys(curves["condition"]))
    fig = Figure(figsize=(3.2 * len(conditions), 2.6 * len(models)))
    axes = np.atleast_2d(
        fig.subplots(len(models), len(conditions), sharex=True, sharey=True, squeeze=False)
    )
    fits = analysis.fits.set_index(["model", "task", "condition"])
    for r, model in enumerate(models):
        for c, cond in enumerate(conditions):
            ax = axes[r, c]
            g = curves[(curves["model"] == model) & (curves["condition"] == cond)]
            ax.fill_between(g["k"], g["p_true_lo"], g["p_true_hi"], alpha=0.25, color="tab:blue")
            ax.plot(g["k"], g["p_true_mean"], color="tab:blue", lw=1.5, label="LM")
            ax.plot(g["k"], g["bayes_fit"], "--", color="tab:red", lw=1.2, label="Beta-Bernoulli")
            ax.plot(g["k"], g["discounted_fit"], "-.", color="tab:orange", lw=1.0,
                    label="discounting")  # fmt: skip
            ax.plot(g["k"], g["zero_shot_mean"], ":", color="grey", lw=1, label="zero-shot")
            ax.axhline(0.5, color="black", lw=0.5, alpha=0.5)
            row = fits.loc[(model, task, cond)]
            ax.set_title(
                f"{model} · {cond}\nkappa {row['kappa']:.1f}, decay {row['decay']:.2f}",
                fontsize=8,
            )
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel("P(true label)")
            if r == len(models) - 1:
                ax.set_xlabel("demonstrations seen k")
    axes[0, 0].legend(fontsize=6, frameon=False, loc="lower left")
    fig.suptitle(f"In-context learning on '{task}'", fontsize=10)
    fig.tight_layout()
    return fig


def tick(task: str, width: int = 24) -> str:
    """A task's name as a tick label: a long one (a file path) keeps its end."""
    return task if len(task) <= width else "…" + task[-(width - 1) :]


def plot_kappa(analysis: IclAnalysis) -> Figure:
    """Left: prior strength kappa (pseudo-counts, log scale) with 95% profile intervals per
    fit; a kappa that is not a measurement (experiments.updating.kappa_measured) is hollow and
    grey, one at the search's bound as a triangle. Right: the discounting learner's decay
    with its interval and the margin above which the rule calls it Bayesian."""
    from bayesmatrix.experiments.updating import DECAY_MARGIN, NO_UPDATE_KAPPA, kappa_measured

    fits = analysis.fits
    labels = [f"{r.model}\n{tick(str(r.task))} · {r.condition}" for r in fits.itertuples()]
    fig = Figure(figsize=(max(7.0, 1.2 * len(fits) + 3), 3.6))
    left, right = fig.subplots(1, 2)
    x = np.arange(len(fits))
    for i, (_, row) in enumerate(fits.iterrows()):
        measured = not kappa_measured(row)
        kappa = min(row["kappa"], NO_UPDATE_KAPPA)
        lo = kappa - min(row["kappa_lo"], kappa)
        hi = min(max(row["kappa_hi"], kappa), NO_UPDATE_KAPPA) - kappa
        style = {"color": "tab:blue" if measured else "0.6",
                 "mfc": "tab:blue" if measured else "none"}  # fmt: skip
        marker = "^" if row["kappa"] >= NO_UPDATE_KAPPA else "o"
        left.errorbar([i], [kappa], yerr=[[lo], [hi]], fmt=marker, capsize=3, **style)
        d_style = {"color": "tab:orange" if row["decay_identified"] else "0.6"}
        right.errorbar(
            [i], [row["decay"]],
            yerr=[[row["decay"] - row["decay_lo"]], [row["decay_hi"] - row["decay"]]],
            fmt="o", capsize=3, **d_style,
        )  # fmt: skip
    left.set_yscale("log")
    left.set_ylabel("prior strength kappa (pseudo-counts)")
    left.set_title("kappa (hollow grey: not a measurement)", fontsize=8)
    right.axhline(DECAY_MARGIN, color="tab:green", lw=0.8, ls="--")
    right.set_ylim(0, 1.05)
    right.set_ylabel("decay (1: Beta-Bernoulli)")
    right.set_title(f"decay (dashed: the margin {DECAY_MARGIN:g}; grey: not identified)",
                    fontsize=8)  # fmt: skip
    for ax in (left, right):
        ax.set_xticks(x, labels, fontsize=6)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
