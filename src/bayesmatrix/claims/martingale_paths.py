"""Claim: in-context predictives are martingales along the model's own sampled paths, and its
uncertainty shrinks at the Bayesian rate (Falck, Wang & Holmes 2024, on coin flips)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from bayesmatrix.claims._icl import BOOTSTRAP
from bayesmatrix.claims.claim import Claim, Context, N, S, Setting, exact_only, right_answers
from bayesmatrix.claims.registry import register
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.paths import (
    ALPHA,
    DRIFT,
    RATE,
    BetaBernoulliSampler,
    LMSampler,
    MartingalePathsResult,
    WindowSampler,
    run_paths,
)
from bayesmatrix.results.store import fingerprint


def _run(ctx: Context, _: None) -> MartingalePathsResult:
    s = ctx.settings
    identity = getattr(ctx.load_model, "identity", lambda m: m)(ctx.model)
    key = fingerprint(
        {"model": identity, "paths": s["paths"], "horizon": s["horizon"], "version": CLAIM.version}
    )[:12]
    frame = run_paths(
        LMSampler(ctx.load_model(ctx.model)),
        ctx.model,
        s["thetas"],
        s["ns"],
        range(s["first_seed"], s["first_seed"] + s["seeds"]),
        s["paths"],
        s["horizon"],
        out=ctx.out / "cells" / f"paths-{key}",
        progress=ctx.progress,
        force=ctx.force,
    )
    return MartingalePathsResult(frame, s["bootstrap"])


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
        cells = cell_tests(r.paths)
        tests = cells.groupby(["model", "n"])[["variance", "reference_variance"]].mean()
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


def _examples() -> list[MartingalePathsResult]:
    """The exact Beta-Bernoulli learner (passes both checks) and a windowed one (fails both),
    sampled along their own paths as the claim samples an LM."""
    grid = ((0.2, 0.5, 0.8), (8, 16, 32, 64), (0, 1))  # biases, ns, seeds
    return [
        MartingalePathsResult(
            run_paths(sampler, "learner", *grid, paths=48, horizon=32), bootstrap=200
        )
        for sampler in (BetaBernoulliSampler(), WindowSampler(8))
    ]


# flips sampled in all (paths x horizon per cell): about 2 s per 10,000 on SmolLM2 here
MAX_SAMPLED = 5_000_000


def _budget(s: Mapping[str, Any]) -> None:
    """Refuse settings whose sampled flips together would run for days."""
    cells = len(s["thetas"]) * len(s["ns"]) * s["seeds"]
    total = cells * s["paths"] * s["horizon"]
    if total > MAX_SAMPLED:
        raise BayesmatrixError(
            f"these settings sample {total:,} flips ({cells} cells x {s['paths']} paths x "
            f"{s['horizon']} flips), over the {MAX_SAMPLED:,} a run may take (about "
            f"{total / 5000 / 3600:,.0f} hours here); lower paths, horizon or the cells"
        )


CLAIM = register(
    Claim(
        name="martingale-paths",
        title="Martingale test on sampled coin-flip paths (Falck et al.)",
        description="E[p_n+m] = p_n along the model's own sampled continuations, and its "
        "uncertainty shrinking like a Bayesian learner's",
        rules=(
            f"martingale: not supported when a cell's exact binomial test of the last sampled "
            f"flips rejects E[z_n+m] = p_n at {ALPHA} after Holm; {DRIFT.sentence()}",
            f"rate: {RATE.sentence()}",
        ),
        scope="model",
        settings={
            "thetas": Setting("true biases of the observed flips", "list[float]", min=0, max=1),
            "ns": Setting("observed flips n", "list[int]", min=1, max=10_000),
            "seeds": Setting("observed sequences per (bias, n)", "int", min=1, max=1000),
            "first_seed": Setting("the first sequence's seed", "int", min=0, max=10**6),
            "paths": Setting("paths sampled per cell", "int", min=2, max=100_000),
            "horizon": Setting("flips sampled along each path", "int", min=1, max=10_000),
            "bootstrap": BOOTSTRAP,
        },
        profiles={
            "test": {
                "thetas": [0.2, 0.8],
                "ns": [4, 8],
                "seeds": 1,
                "first_seed": 0,
                "paths": 8,
                "horizon": 6,
                "bootstrap": 50,
            },
            "quick": {
                "thetas": [0.2, 0.5, 0.8],
                "ns": [8, 32],
                "seeds": 1,
                "first_seed": 0,
                "paths": 16,
                "horizon": 10,
                "bootstrap": 100,
            },
            "full": {
                "thetas": [0.2, 0.5, 0.8],
                "ns": [8, 16, 32, 64],
                "seeds": 1,
                "first_seed": 0,
                "paths": 40,
                "horizon": 24,
                "bootstrap": 200,
            },
        },
        run=_run,
        result=MartingalePathsResult,
        figures=lambda results, models, s: [("martingale_paths", plot_martingale_paths(results))],
        examples=_examples,
        consistent=_budget,
        calibration={
            DRIFT: exact_only(right_answers(S, N, S)),
            RATE: exact_only(right_answers(S, N, N)),
        },
        requires=frozenset({"streams"}),
        order=50,
        results_page="capabilities/icl.md",
    )
)
