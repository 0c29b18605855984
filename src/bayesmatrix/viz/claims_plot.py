"""Figures for the embedding/entropy claims: continuity, entropy reduction, chain of thought,
the hallucination signal, the martingale test on sampled paths and the entropy geometry. Each
reads result objects and returns a figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bayesmatrix.experiments.continuity import ContinuityResult
    from bayesmatrix.experiments.cot import CotResult
    from bayesmatrix.experiments.entropy import EntropyResult
    from bayesmatrix.experiments.geometry import GeometryResult
    from bayesmatrix.experiments.hallucination import HallucinationResult
    from bayesmatrix.experiments.icl.paths import MartingalePathsResult
    from bayesmatrix.experiments.semantic_entropy import SemanticEntropyResult


def plot_continuity(results: Sequence[ContinuityResult]) -> Figure:
    """Left: median TV between rows against the relative perturbation eps (log-log), with a
    slope-1 guide. Right: TV(row at the mixed embedding, mixed row) / TV(p1, p2) by lambda."""
    fig = Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    for r in results:
        label = f"{r.model}, layer {r.layer}"
        med = r.perturbation.groupby("eps")["tv"].median()
        left.loglog(med.index, med.values, "-o", ms=3, label=label)
        rel = r.interpolation.groupby("lambda")["relative"].agg(["mean", "sem"])
        right.errorbar(
            rel.index,
            rel["mean"],
            yerr=2 * rel["sem"].fillna(0),
            fmt="-o",
            ms=3,
            capsize=2,
            label=label,
        )
    eps = np.logspace(-4, 0, 5)
    left.loglog(eps, eps * 0.5, ":", color="grey", label="slope 1")
    left.set_xlabel("relative perturbation eps")
    left.set_ylabel("median TV(p(h), p(h + delta))")
    left.set_title("Continuity (Theorem 1)", fontsize=9)
    right.axhline(0, color="black", lw=0.5)
    right.set_xlabel("lambda")
    right.set_ylabel("TV to the mixed row / TV(p1, p2)")
    right.set_title("Convexity preservation (assumption)", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


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


def plot_hallucination(results: Sequence[HallucinationResult]) -> Figure:
    """ROC curves of low answer-row entropy as a detector of right answers."""
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    for r in results:
        for with_context, g in r.frame.groupby("with_context"):
            y = g["correct"].to_numpy()
            if y.all() or not y.any():
                continue
            order = np.argsort(g["entropy_bits"].to_numpy())
            tpr = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
            fpr = np.concatenate([[0], np.cumsum(~y[order]) / (~y).sum()])
            ax.plot(fpr, tpr, label=f"{r.model}, {'with' if with_context else 'no'} fact")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Low entropy as a signal of a right answer", fontsize=9)
    ax.legend(fontsize=6, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_risk_coverage(results: Sequence[SemanticEntropyResult]) -> Figure:
    """Risk (error rate among the answered) against coverage for each hallucination signal:
    semantic entropy over sampled answers against single-pass signals, one panel per model
    and condition."""
    from bayesmatrix.experiments.semantic_entropy import SIGNALS, risk_coverage

    panels = [(r, c, g) for r in results for c, g in r.frame.groupby("with_context")]
    fig = Figure(figsize=(4.2 * max(1, len(panels)), 3.8))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(panels))))
    for ax, (r, with_context, g) in zip(axes, panels, strict=False):
        y = g["correct"].to_numpy()
        coverage = np.arange(1, len(y) + 1) / len(y)
        for signal, sign in SIGNALS.items():
            risk, area = risk_coverage(sign * g[signal].to_numpy(), y)
            ax.plot(coverage, risk, label=f"{signal.replace('_', ' ')} (AURC {area:.3f})")
        ax.axhline(1 - y.mean(), ls=":", color="grey", lw=0.8)
        ax.set_xlabel("coverage (most confident first)")
        ax.set_ylabel("risk (error rate)")
        ax.set_title(f"{r.model}, {'with' if with_context else 'no'} fact", fontsize=9)
        ax.legend(fontsize=6, frameon=False)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_martingale_paths(results: Sequence[MartingalePathsResult]) -> Figure:
    """Left: the mean predictive along the sampled paths minus p_n, per (bias, n) (a
    martingale stays on 0). Right: var(p_n+m) over paths against n, beside the Bayesian
    learner's, per model (log-log)."""
    from bayesmatrix.experiments.icl.paths import cell_tests

    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    for r in results:
        for _, g in r.paths.groupby(["model", "theta", "n"], sort=False):
            probs = np.stack(g["probs"].to_numpy())
            left.plot(probs.mean(axis=0) - probs[:, 0].mean(), lw=0.8, alpha=0.7)
        tests = (
            cell_tests(r.paths).groupby(["model", "n"])[["variance", "reference_variance"]].mean()
        )
        for model, t in tests.groupby(level="model"):
            ns = t.index.get_level_values("n")
            (line,) = right.plot(ns, t["variance"], marker="o", label=f"{model}")
            right.plot(ns, t["reference_variance"], ls=":", color=line.get_color())
    left.axhline(0, color="black", lw=0.8)
    left.set_xlabel("sampled flips m")
    left.set_ylabel("mean over paths of p_n+m - p_n", fontsize=8)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("observed flips n")
    right.set_ylabel("var(p_n+m) over paths (dotted: Beta-Bernoulli)", fontsize=8)
    right.legend(fontsize=7, frameon=False)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_geometry(results: Sequence[GeometryResult]) -> Figure:
    """Left: the model's two-label entropy and the Bayes-optimal one against the number of
    demonstrations k (SULA) or the position (wind tunnels). Right: PC1 of the last-layer
    states against the model's entropy, per model."""
    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    for r in results:
        curve = r.by_k()
        key = curve.columns[0]
        (line,) = left.plot(curve[key], curve["entropy"], marker="o", label=f"{r.model}")
        left.plot(curve[key], curve["bayes_entropy"], ls=":", color=line.get_color())
        if "pc1" in r.frame:
            right.scatter(r.frame["pc1"], r.frame["entropy"], s=6, alpha=0.5, label=r.model)
    left.set_xlabel("demonstrations k" if key == "k" else "position")
    left.set_ylabel("entropy, bits (dotted: Bayes-optimal)", fontsize=8)
    right.set_xlabel("PC1 of last-layer states")
    right.set_ylabel("model entropy, bits")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
