"""Claim: on coin flips of known bias, the model's prior, a stated bias against contradicting
flips, and its updating against the exact Beta-Binomial posterior (Gupta et al. 2025)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesmatrix.claims._icl import BOOTSTRAP
from bayesmatrix.claims.claim import Claim, Context, N, S, Setting, right_answers
from bayesmatrix.claims.registry import register
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.coinflips import (
    CONFLICT,
    GAMMA,
    MIN_MASS,
    PRIOR,
    UPDATING,
    CoinFlipResult,
    draw_flips,
    phrasings,
    run_coin_flips,
)
from bayesmatrix.experiments.updating import rule_sentence

GUPTA_BIASES = [round(0.1 * i, 1) for i in range(11)]  # their grid: 0%, 10%, ..., 100%
CHAIN = [0.75, 0.25]  # their posterior chain: the bias switches from 0.75 to 0.25


def _run(ctx: Context, _: None) -> CoinFlipResult:
    s = ctx.settings
    lm = ctx.load_model(ctx.model)
    ctx.progress(
        f"coin flips: {len(s['biases'])} biases, a chain and {len(s['conflict'])} conflicts x "
        f"{s['seeds']} seeds x {s['phrasings']} phrasings on {lm.name}"
    )
    seeds = range(s["first_seed"], s["first_seed"] + s["seeds"])
    readings = run_coin_flips(
        lm, s["biases"], seeds, s["flips"], s["phrasings"], s["chain"] or (), s["conflict"]
    )
    return CoinFlipResult(readings, s["bootstrap"])


def _consistent(s: Mapping[str, Any]) -> None:
    if s["chain"] is not None and len(s["chain"]) != 2:
        raise BayesmatrixError("setting chain takes two biases (before and after the switch)")
    if s["phrasings"] > len(phrasings()[0]):
        raise BayesmatrixError(f"setting phrasings is at most {len(phrasings()[0])}")


def plot_coin_flips(results: Sequence[CoinFlipResult]) -> Figure:
    """Left: mean KL (bits) of the model's predictive from the exact posterior predictive
    (fitted prior: solid; uniform: dotted) and from Gupta et al.'s discounting filter
    (dashed) against flips seen, per model, with intervals over sequences. Middle: the first
    model's P(heads) averaged over the sequences of each bias, the fitted posterior dashed.
    Right: the posterior chain (the bias switches halfway), beside the exact posterior and
    the filter."""
    from matplotlib import colormaps

    fig = Figure(figsize=(12, 3.8))
    left, middle, right = fig.subplots(1, 3)
    first = None
    for r in results:
        curve = r.kl_curve()
        if curve.empty:
            continue
        ev = curve[(curve["condition"] == "evidence") & (curve["n"] >= 1)]
        for model, g in ev.groupby("model", sort=False):
            first = first or model
            for prior, style in (("fitted", "-"), ("uniform", ":"), ("filter", "--")):
                c = g[g["prior"] == prior]
                (line,) = left.plot(c["n"], c["kl_bits"], ls=style, label=f"{model} ({prior})")
                left.fill_between(
                    c["n"], c["kl_lo"], c["kl_hi"], color=line.get_color(), alpha=0.12
                )
        if first is None:
            continue
        compared = r.compared(first)
        rows = compared[compared["condition"] == "evidence"]
        biases = sorted(rows["bias"].unique())
        for i, (bias, seq) in enumerate(rows.groupby("bias")):
            color = colormaps["coolwarm"](i / max(len(biases) - 1, 1))
            mean = seq.groupby("n")[["p", "fitted"]].mean()
            middle.plot(mean.index, mean["p"], color=color, lw=1.2, label=f"{bias:g}")
            middle.plot(mean.index, mean["fitted"], color=color, lw=0.8, ls="--")
        chain = compared[compared["condition"] == "chain"]
        if len(chain):
            mean = chain.groupby("n")[["p", "fitted", "filter"]].mean()
            right.plot(mean.index, mean["p"], color="tab:blue", label="model")
            right.plot(mean.index, mean["fitted"], "--", color="tab:red", label="Beta-Binomial")
            right.plot(mean.index, mean["filter"], ":", color="tab:orange",
                       label=f"filter (gamma {GAMMA:g})")  # fmt: skip
            right.axvline(mean.index.max() / 2, color="0.6", lw=0.6)
            right.legend(fontsize=6, frameon=False)
    left.set_xlabel("flips seen n")
    left.set_ylabel("KL(model || reference), bits")
    left.legend(fontsize=6, frameon=False)
    middle.set_xlabel("flips seen n")
    middle.set_ylabel("mean P(heads) over sequences", fontsize=8)
    middle.set_title(f"{first}: model (solid), Beta-Binomial (dashed)", fontsize=8)
    middle.legend(title="bias", fontsize=6, title_fontsize=7, frameon=False, ncol=2)
    right.set_xlabel("flips seen n")
    right.set_title(f"{first}: posterior chain {CHAIN[0]:g} -> {CHAIN[1]:g}", fontsize=8)
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _learner_readings(kind: str, seeds: int, flips: int) -> pd.DataFrame:
    """Readings of a constructed learner in the claim's frame: 'bayes' is the Beta(1, 1)
    posterior predictive (ignores a statement); 'forgets' counts only its last 3 flips and
    takes a stated bias at its word; both read under 2 phrasings."""
    rows: list[tuple] = []
    for v in range(50):
        p0 = 0.5 + 0.01 * (v % 3 - 1) if kind == "bayes" else 0.85
        rows.append(("prior", v, np.nan, np.nan, np.nan, -1, 0, 0, p0))
    designs: list[tuple[str, float, float | None, float | None]]
    designs = [("evidence", b, None, None) for b in (0.2, 0.5, 0.8)]
    designs += [("chain", CHAIN[0], CHAIN[1], None)]
    designs += [("conflict", 0.2, None, 0.8), ("conflict", 0.8, None, 0.2)]
    for condition, bias, after, stated in designs:
        for seed in range(seeds):
            seq = draw_flips(bias, flips, seed, after)
            heads = np.concatenate([[0], np.cumsum(seq)])
            for v in range(2):
                for n in range(flips + 1):
                    if kind == "bayes":
                        p = (1 + heads[n]) / (2 + n)
                    elif condition == "conflict":
                        p = stated
                    else:
                        recent = seq[max(0, n - 3) : n]
                        p = (1 + recent.sum()) / (2 + len(recent))
                    rows.append((condition, v, bias, after, stated, seed, n, int(heads[n]), p))
    columns = ["condition", "variant", "bias", "after", "stated", "seed", "n", "heads", "p"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("bias", "after", "stated"):
        frame[column] = frame[column].astype(float)
    frame.insert(0, "model", kind)
    frame["mass"] = 1.0
    return frame


def _examples() -> list[CoinFlipResult]:
    """The exact Bayesian learner (every rule supported) and a heads-biased learner that
    forgets and follows a stated bias (every rule not supported)."""
    return [
        CoinFlipResult(_learner_readings(kind, 6, 24), bootstrap=200)
        for kind in ("bayes", "forgets")
    ]


CLAIM = register(
    Claim(
        name="coin-flips",
        title="Coin flips of known bias: prior, stated bias, exact posterior (Gupta et al.)",
        description="P(heads) before any flip is fair; evidence outweighs a stated bias that "
        "contradicts it; the predictive follows the Beta-Binomial posterior, not a forgetting "
        "one",
        rules=(
            f"prior: {PRIOR.sentence()}",
            f"a stated bias against flips of the opposite bias: {CONFLICT.sentence()}",
            f"updating of the evidence and chain sequences (P(heads) averaged over phrasings; "
            f"positions where heads/tails carry under {MIN_MASS:g} of the mass left out): "
            + rule_sentence("coin-flips"),
        ),
        scope="model",
        settings={
            "biases": Setting(
                "true P(heads) of the evidence sequences", "list[float]", min=0, max=1
            ),
            "seeds": Setting("sequences per bias, chain and conflict", "int", min=2, max=1000),
            "first_seed": Setting("the first sequence's seed", "int", min=0, max=10**6),
            "flips": Setting("flips per sequence", "int", min=2, max=1000),
            "phrasings": Setting(
                "of Gupta et al.'s 50 phrasings, how many each sequence is read under "
                "(averaged); the prior uses all 50",
                "int",
                min=1,
                max=50,
            ),
            "chain": Setting(
                "the posterior chain's bias before and after its switch halfway (none: no chain)",
                "list[float]",
                min=0,
                max=1,
                optional=True,
            ),
            "conflict": Setting(
                "stated biases, each read against flips of the opposite bias",
                "list[float]",
                min=0,
                max=1,
            ),
            "bootstrap": BOOTSTRAP,
        },
        profiles={
            "test": {
                "biases": [0.2, 0.8],
                "seeds": 2,
                "first_seed": 0,
                "flips": 8,
                "phrasings": 2,
                "chain": CHAIN,
                "conflict": [0.2, 0.8],
                "bootstrap": 50,
            },
            "quick": {
                "biases": [0.1, 0.3, 0.5, 0.7, 0.9],
                "seeds": 3,
                "first_seed": 0,
                "flips": 30,
                "phrasings": 4,
                "chain": CHAIN,
                "conflict": [0.2, 0.8],
                "bootstrap": 200,
            },
            "full": {
                "biases": GUPTA_BIASES,
                "seeds": 5,
                "first_seed": 0,
                "flips": 100,
                "phrasings": 50,
                "chain": CHAIN,
                "conflict": [0.2, 0.8],
                "bootstrap": 1000,
            },
        },
        run=_run,
        result=CoinFlipResult,
        figures=lambda results, models, s: [("coin_flips", plot_coin_flips(results))],
        examples=_examples,
        consistent=_consistent,
        calibration={
            PRIOR: right_answers(S, S, S),
            CONFLICT: right_answers(S, S, None),
            UPDATING: right_answers(S, N, None),
        },
        requires=frozenset({"logprobs"}),
        order=55,
        results_page="capabilities/icl.md",
        version=3,
    )
)
