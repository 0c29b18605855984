"""Claim: on coin flips of known bias, the model's prior, its use of a stated bias against
evidence, and its updating against the exact Beta-Binomial posterior (Gupta et al. 2025)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.claims._icl import BOOTSTRAP
from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.experiments.coinflips import (
    EVIDENCE,
    PRIOR,
    UPDATING,
    WEIGHT,
    CoinFlipResult,
    draw_flips,
    run_coin_flips,
)

GUPTA_BIASES = [round(0.1 * i, 1) for i in range(11)]  # their grid: 0%, 10%, ..., 100%


def _run(ctx: Context, _: None) -> CoinFlipResult:
    s = ctx.settings
    lm = ctx.load_model(ctx.model)
    ctx.progress(f"coin flips: {len(s['biases'])} biases x {s['seeds']} seeds on {lm.name}")
    seeds = range(s["first_seed"], s["first_seed"] + s["seeds"])
    readings = run_coin_flips(lm, s["biases"], seeds, s["flips"])
    return CoinFlipResult(readings, s["bootstrap"])


def plot_coin_flips(results: Sequence[CoinFlipResult]) -> Figure:
    """Left: mean KL (bits) of the model's predictive from the exact posterior predictive
    against flips seen, with the fitted prior (solid) and the uniform one (dotted), per
    model, with intervals over sequences. Right: the first model's P(heads) averaged over the
    sequences of each bias, with the fitted-prior posterior predictive dashed."""
    from matplotlib import colormaps

    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    first = None
    for r in results:
        curve = r.kl_curve()
        if curve.empty:
            continue
        ev = curve[(curve["condition"] == "evidence") & (curve["n"] >= 1)]
        for model, g in ev.groupby("model", sort=False):
            first = first or model
            for prior, style in (("fitted", "-"), ("uniform", ":")):
                c = g[g["prior"] == prior]
                (line,) = left.plot(
                    c["n"], c["kl_bits"], ls=style, label=f"{model} ({prior} prior)"
                )
                left.fill_between(
                    c["n"], c["kl_lo"], c["kl_hi"], color=line.get_color(), alpha=0.12
                )
        compared = r.compared()
        rows = compared[(compared["condition"] == "evidence") & (compared["model"] == first)]
        biases = sorted(rows["bias"].unique())
        for i, (bias, seq) in enumerate(rows.groupby("bias")):
            color = colormaps["coolwarm"](i / max(len(biases) - 1, 1))
            mean = seq.groupby("n")[["p", "fitted"]].mean()
            right.plot(mean.index, mean["p"], color=color, lw=1.2, label=f"{bias:g}")
            right.plot(mean.index, mean["fitted"], color=color, lw=0.8, ls="--")
    left.set_xlabel("flips seen n")
    left.set_ylabel("KL(model || posterior predictive), bits")
    left.legend(fontsize=7, frameon=False)
    right.set_xlabel("flips seen n")
    right.set_ylabel("mean P(heads) over sequences", fontsize=8)
    right.set_title(f"{first}: model (solid), Beta-Binomial (dashed)", fontsize=8)
    right.legend(title="bias", fontsize=6, title_fontsize=7, frameon=False, ncol=2)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _learner_readings(kind: str, biases: Sequence[float], seeds: int, flips: int) -> pd.DataFrame:
    """Readings of a constructed learner in the claim's frame: 'bayes' is the Beta(1, 1)
    posterior predictive (ignores a statement, so evidence outweighs it); 'ignorer' keeps a
    heads-biased prior whatever the flips, and takes a stated bias at its word."""
    rows = []
    for v in range(8):
        p0 = 0.5 if kind == "bayes" else 0.85
        rows.append(("prior", v, np.nan, -1, 0, 0, p0 + 0.01 * (v % 3 - 1)))
    for bias in biases:
        for seed in range(seeds):
            seq = draw_flips(bias, flips, seed)
            heads = np.concatenate([[0], np.cumsum(seq)])
            for condition in ("evidence", "stated"):
                for n in range(flips + 1):
                    if kind == "bayes":
                        p = float(beta_bernoulli_predictive(heads[n], n, 1.0, 1.0))
                    elif condition == "stated":
                        p = bias
                    else:
                        p = 0.85
                    rows.append((condition, 0, bias, seed, n, int(heads[n]), p))
    frame = pd.DataFrame(rows, columns=["condition", "variant", "bias", "seed", "n", "heads", "p"])
    frame.insert(0, "model", kind)
    frame["mass"] = 1.0
    return frame[["model", "condition", "variant", "bias", "seed", "n", "heads", "p", "mass"]]


def _examples() -> list[CoinFlipResult]:
    """The exact Bayesian learner (every rule supported) and an ignorer with a heads-biased
    prior that follows a stated bias (every rule not supported)."""
    return [
        CoinFlipResult(_learner_readings(kind, [0.2, 0.5, 0.8], 4, 16), bootstrap=200)
        for kind in ("bayes", "ignorer")
    ]


CLAIM = register(
    Claim(
        name="coin-flips",
        title="Coin flips of known bias: prior, stated bias, exact posterior (Gupta et al.)",
        description="P(heads) before any flip is fair; evidence outweighs a stated bias; "
        "the predictive follows the Beta-Binomial posterior predictive",
        rules=(
            f"prior: {PRIOR.sentence()}",
            f"evidence against a stated bias: {EVIDENCE.sentence()}",
            f"updating: {UPDATING.sentence()}; and {WEIGHT.sentence()}",
        ),
        scope="model",
        settings={
            "biases": Setting("true P(heads) of the sequences", "list[float]", min=0, max=1),
            "seeds": Setting("sequences per bias", "int", min=2, max=1000),
            "first_seed": Setting("the first sequence's seed", "int", min=0, max=10**6),
            "flips": Setting("flips per sequence", "int", min=1, max=1000),
            "bootstrap": BOOTSTRAP,
        },
        profiles={
            "test": {
                "biases": [0.2, 0.8],
                "seeds": 2,
                "first_seed": 0,
                "flips": 8,
                "bootstrap": 50,
            },
            "quick": {
                "biases": [0.1, 0.3, 0.5, 0.7, 0.9],
                "seeds": 3,
                "first_seed": 0,
                "flips": 16,
                "bootstrap": 200,
            },
            "full": {
                "biases": GUPTA_BIASES,
                "seeds": 5,
                "first_seed": 0,
                "flips": 50,
                "bootstrap": 1000,
            },
        },
        run=_run,
        result=CoinFlipResult,
        figures=lambda results, models, s: [("coin_flips", plot_coin_flips(results))],
        examples=_examples,
        requires=frozenset({"logprobs"}),
        order=55,
    )
)
