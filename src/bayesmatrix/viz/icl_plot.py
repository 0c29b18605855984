"""ICL figures: learning curves with fitted Bayesian curves, and kappa per model/condition."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.analysis import IclAnalysis


def plot_learning_curves(analysis: IclAnalysis, task: str) -> Figure:
    """One panel per (model, condition): P(semantic label) against the number of
    demonstrations seen (mean over seeds, 95% bootstrap band), the fitted Beta-Bernoulli curve,
    and the zero-shot prior."""
    curves = analysis.curves[analysis.curves["task"] == task]
    models = list(dict.fromkeys(curves["model"]))
    conditions = list(dict.fromkeys(curves["condition"]))
    fig = Figure(figsize=(3.2 * len(conditions), 2.6 * len(models)))
    axes = np.atleast_2d(
        fig.subplots(len(models), len(conditions), sharex=True, sharey=True, squeeze=False)
    )
    fits = analysis.fits[analysis.fits["learner"] == "beta-bernoulli"].set_index(
        ["model", "task", "condition"]
    )
    for r, model in enumerate(models):
        for c, cond in enumerate(conditions):
            ax = axes[r, c]
            g = curves[(curves["model"] == model) & (curves["condition"] == cond)]
            ax.fill_between(g["k"], g["p_true_lo"], g["p_true_hi"], alpha=0.25, color="tab:blue")
            ax.plot(g["k"], g["p_true_mean"], color="tab:blue", lw=1.5, label="LM")
            ax.plot(
                g["k"], g["bayes_fit"], "--", color="tab:red", lw=1.2, label="Beta-Bernoulli fit"
            )
            ax.plot(g["k"], g["zero_shot_mean"], ":", color="grey", lw=1, label="zero-shot")
            ax.axhline(0.5, color="black", lw=0.5, alpha=0.5)
            kappa = fits.loc[(model, task, cond), "kappa"]
            ax.set_title(f"{model} · {cond}\nkappa = {kappa:.1f}", fontsize=8)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel("P(semantic label)")
            if r == len(models) - 1:
                ax.set_xlabel("demonstrations seen k")
    axes[0, 0].legend(fontsize=6, frameon=False, loc="lower left")
    fig.suptitle(f"In-context learning on '{task}'", fontsize=10)
    fig.tight_layout()
    return fig


def plot_kappa(analysis: IclAnalysis) -> Figure:
    """Fitted prior strength kappa (pseudo-counts, log scale) with 95% intervals, per
    model and condition, one group per task. A fit at or beyond NO_UPDATE_KAPPA (no
    measurable updating) is drawn as an upward triangle at that bound, not as its number."""
    from bayesmatrix.experiments.icl.analysis import NO_UPDATE_KAPPA

    bb = analysis.fits[analysis.fits["learner"] == "beta-bernoulli"]
    groups = list(dict.fromkeys(zip(bb["task"], bb["condition"], strict=True)))
    models = list(dict.fromkeys(bb.sort_values("model_params")["model"]))
    fig = Figure(figsize=(max(5.0, 1.1 * len(groups) + 2), 3.4))
    ax = fig.subplots()
    width = 0.8 / max(1, len(models))
    for m, model in enumerate(models):
        rows = bb[bb["model"] == model].set_index(["task", "condition"])
        xs, ys, lo, hi, capped = [], [], [], [], []
        for i, key in enumerate(groups):
            if key in rows.index:
                row = rows.loc[key]
                x = i + (m - (len(models) - 1) / 2) * width
                if row["kappa"] >= NO_UPDATE_KAPPA:
                    capped.append(x)
                    continue
                xs.append(x)
                ys.append(row["kappa"])
                lo.append(row["kappa"] - min(row["kappa_lo"], row["kappa"]))
                hi.append(min(max(row["kappa_hi"], row["kappa"]), NO_UPDATE_KAPPA) - row["kappa"])
        bar = ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=model)
        if capped:
            ax.scatter(
                capped,
                [NO_UPDATE_KAPPA] * len(capped),
                marker="^",
                color=bar[0].get_color(),
                label=f"{model}: kappa > 10^4 (no update)",
            )
    ax.axhline(NO_UPDATE_KAPPA, color="0.6", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [f"{t}\n{c}" for t, c in groups], fontsize=7)
    ax.set_ylabel("prior strength kappa (pseudo-counts)")
    ax.set_title("Smaller kappa = demonstrations override the prior faster", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
