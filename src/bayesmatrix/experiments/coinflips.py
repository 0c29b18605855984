"""The coin-flip protocol of Gupta et al., "Enough Coin Flips Can Make LLMs Act Bayesian"
(ACL 2025, code rcorona/llm-coin-flips): the evidence is coin flips of known bias, so the
exact Bayesian posterior predictive is known, and the model's predictive can be held to it.

What we follow: their prompt ("I just flipped a coin, and it came up heads, then tails,
then ..."), their explicit-bias sentence ("When I flip coins they land on heads {p}% of the
time."), the two outcomes read as the next token's probability of " heads" and " tails"
renormalised over the pair (the raw mass kept as a check), biases on a grid, and the
comparison with the Beta-Binomial posterior. Where we differ: the model is read
prequentially, every flip's predictive from one forward pass (they sample and query each n
separately); the distance is the KL divergence in bits per flip between the model's
Bernoulli predictive and the posterior predictive (they report total variation on sampled
frequencies); the prior is read over our own eight prompt phrasings in their style (theirs
are not on this machine); and the strength of the Beta prior (kappa) that best explains the
model's updates is fitted, with its fit quality, besides the uniform Beta(1, 1).

Readings are one frame: per (condition, variant, bias, seed) sequence and n = 0..N, the
heads seen so far and the model's renormalised P(heads) and raw mass. Everything else is
computed from it (`coin_flip_verdicts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict, estimate

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

OUTCOMES = ("heads", "tails")
SEPARATOR = ", then"
# the prompt of Gupta et al. first, then our phrasings in their style (for the prior only)
VARIANTS = (
    "I just flipped a coin, and it came up",
    "I flipped a coin and it landed on",
    "We tossed a coin. It came up",
    "My friend flipped a coin and got",
    "I tossed a coin, and the result was",
    "The coin was flipped, and it showed",
    "Flipping a coin, I got",
    "She flipped a coin. It came up",
)
STATEMENT = "When I flip coins they land on heads {percent}% of the time. "
CONDITIONS = ("evidence", "stated")
KAPPA_BOUNDS = (0.1, 1e4)  # the fitted prior strength is searched on this range (log scale)
KAPPA_BOOTSTRAP = 200  # resamples of the kappa fit (each refits; more buys little)

PRIOR = Rule("P(heads) before any flip, over prompt phrasings", within=0.05, centre="0.5")
EVIDENCE = Rule(
    "the slope of P(heads) on the observed frequency after N flips minus its slope on a "
    "stated bias before any flip",
    above=0,
)
UPDATING = Rule(
    "the mean KL (bits per flip) of the model's predictive from the Beta-Binomial posterior "
    "predictive with the best-fitting prior strength",
    below=0.02,
    unit=" bits",
)
# a fixed prior that ignores the flips is a Beta prior of infinite strength, and fits the
# KL rule well: updating also needs the flips to carry weight in the fitted posterior
WEIGHT = Rule("the weight N/(kappa + N) of the N flips in the fitted posterior", above=0.25)


@dataclass(frozen=True)
class CoinPrompt:
    """How a sequence is put to the model: a phrasing, and optionally a stated bias."""

    variant: str = VARIANTS[0]
    stated: float | None = None  # the bias the prompt states (Gupta et al.'s needle)

    def head(self) -> str:
        if self.stated is None:
            return self.variant
        return STATEMENT.format(percent=round(100 * self.stated)) + self.variant


def outcome_tokens(lm: LanguageModel) -> tuple[int, int]:
    """The token ids of " heads" and " tails" (each must be one token after a space)."""
    ids = [lm.encode(" " + w) for w in OUTCOMES]
    if any(len(i) != 1 for i in ids):
        raise BayesmatrixError(
            f"{lm.name} does not tokenise ' heads' and ' tails' as one token each ({ids}); "
            "the coin-flip protocol reads them as the next token"
        )
    return ids[0][0], ids[1][0]


def read_flips(lm: LanguageModel, prompt: CoinPrompt, flips: Sequence[int]) -> pd.DataFrame:
    """One forward pass over "<head> heads, then tails, then ..."; for n = 0..len(flips) the
    model's P(heads) for flip n+1 after the first n (renormalised over heads/tails), the raw
    mass on the two, and the heads seen. flips: 1 = heads."""
    heads_id, tails_id = outcome_tokens(lm)
    words = [OUTCOMES[0] if z else OUTCOMES[1] for z in flips]
    head = prompt.head()
    text = head + "".join(f" {w}{SEPARATOR}" for w in words)
    ids, offsets = lm.encode_offsets(text)
    shift = 1 if lm.adds_bos else 0
    full = [lm.bos_id, *ids] if shift else list(ids)
    cuts, pos = [], len(head)
    for i, w in enumerate(words):
        j = next((t for t, (_, end) in enumerate(offsets) if end > pos), None)
        want = heads_id if w == OUTCOMES[0] else tails_id
        if j is None or offsets[j][0] != pos or ids[j] != want:
            raise BayesmatrixError(
                f"{lm.name} does not tokenise flip {i} (' {w}') on its own in the coin-flip "
                "prompt; the protocol needs each outcome to be one token"
            )
        cuts.append(j + shift)
        pos += len(f" {w}{SEPARATOR}")
    cuts.append(len(full))  # after the last flip (and its separator): the next one
    requests = [(c, [tok]) for c in cuts for tok in (heads_id, tails_id)]
    logp = lm.continuation_logprobs(full, requests).reshape(len(cuts), 2)
    p = np.exp(logp)
    mass = p.sum(axis=1)
    seen = np.concatenate([[0], np.cumsum(flips)]).astype(int)
    return pd.DataFrame(
        {"n": np.arange(len(cuts)), "heads": seen, "p": p[:, 0] / mass, "mass": mass}
    )


def draw_flips(bias: float, n: int, seed: int) -> np.ndarray:
    """n flips with P(heads) = bias, seeded by (seed, bias): the same sequence for the
    evidence and the stated condition."""
    rng = np.random.default_rng([seed, round(bias * 1e6), 11])
    return (rng.random(n) < bias).astype(int)


def run_coin_flips(
    lm: LanguageModel,
    biases: Sequence[float],
    seeds: Sequence[int],
    flips: int,
    variants: Sequence[str] = VARIANTS,
) -> pd.DataFrame:
    """Every reading of the protocol for one model: the prior over phrasings (n = 0, no
    statement), and per bias and seed one sequence of `flips` flips, read without a
    statement (evidence) and after a sentence stating the true bias (stated)."""
    rows = []
    for v, variant in enumerate(variants):
        frame = read_flips(lm, CoinPrompt(variant), [])
        rows.append(frame.assign(condition="prior", variant=v, bias=np.nan, seed=-1))
    for bias in biases:
        for seed in seeds:
            seq = draw_flips(bias, flips, seed)
            for condition in CONDITIONS:
                stated = bias if condition == "stated" else None
                frame = read_flips(lm, CoinPrompt(VARIANTS[0], stated), seq)
                rows.append(frame.assign(condition=condition, variant=0, bias=bias, seed=seed))
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "model", lm.name)
    return out[["model", "condition", "variant", "bias", "seed", "n", "heads", "p", "mass"]]


# ---- the exact learner and the comparison ------------------------------------------------------
def bernoulli_kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)) in bits, elementwise (0 log 0 = 0)."""
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    q = np.clip(np.asarray(q, float), 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.where(p > 0, p * np.log2(p / q), 0.0)
        zero = np.where(p < 1, (1 - p) * np.log2((1 - p) / (1 - q)), 0.0)
    return np.maximum(one + zero, 0.0)  # rounding never makes a divergence negative


def fit_kappa(seqs: pd.DataFrame) -> tuple[float, float]:
    """The strength kappa of the Beta(kappa m, kappa (1 - m)) prior, m = each sequence's own
    P(heads) before any flip (column prior_mean), whose posterior predictive is closest to
    the model's readings (mean KL bits over flips n >= 1); returns (kappa, that mean KL).
    kappa is searched on KAPPA_BOUNDS in log space (grid, then bounded refinement); a fit at
    a bound means 'at least' / 'at most' that."""
    later = seqs[seqs["n"] >= 1]
    if later.empty:
        return float("nan"), float("nan")
    m = np.clip(later["prior_mean"].to_numpy(float), 1e-6, 1 - 1e-6)
    heads, n, p = (later[c].to_numpy(float) for c in ("heads", "n", "p"))

    def loss(log_k: float) -> float:
        k = np.exp(log_k)
        return float(
            bernoulli_kl_bits(p, beta_bernoulli_predictive(heads, n, k * m, k * (1 - m))).mean()
        )

    lo, hi = np.log(KAPPA_BOUNDS)
    grid = np.linspace(lo, hi, 61)
    best = grid[int(np.argmin([loss(g) for g in grid]))]
    res = minimize_scalar(loss, bounds=(max(lo, best - 0.2), min(hi, best + 0.2)), method="bounded")
    fitted = float(res.x)
    for edge, bound in zip((lo, hi), KAPPA_BOUNDS, strict=True):
        if abs(fitted - edge) < 0.01:  # the optimiser stops short of a bound it presses on
            return float(bound), loss(edge)
    return float(np.exp(fitted)), loss(fitted)


def kappa_interval(seqs: pd.DataFrame, n_boot: int, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of fit_kappa over sequences (NaN with < 2)."""
    groups = [g for _, g in seqs.groupby(["bias", "seed"], sort=False)]
    if len(groups) < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    fits = [
        fit_kappa(pd.concat([groups[i] for i in rng.integers(0, len(groups), len(groups))]))[0]
        for _ in range(n_boot)
    ]
    lo, hi = np.exp(np.percentile(np.log(fits), [2.5, 97.5]))
    return float(lo), float(hi)


def comparison(readings: pd.DataFrame) -> pd.DataFrame:
    """Per reading of the evidence and stated sequences: the model's P(heads), the posterior
    predictive under the uniform prior and under the fitted prior (kappa fitted over every
    sequence of the model and condition, prior mean its own n = 0 reading), and the KL bits
    of the model from each."""
    frame = readings[readings["condition"] != "prior"]
    if frame.empty:
        return pd.DataFrame()
    keys = ["model", "condition", "bias", "seed"]
    first = frame["p"].where(frame["n"] == 0)
    frame = frame.assign(prior_mean=first.groupby([frame[k] for k in keys]).transform("max"))
    parts = []
    for _, g in frame.groupby(["model", "condition"], sort=False):
        kappa = fit_kappa(g)[0]
        m = g["prior_mean"].to_numpy()
        uniform = beta_bernoulli_predictive(g["heads"], g["n"], 1.0, 1.0)
        fitted = beta_bernoulli_predictive(g["heads"], g["n"], kappa * m, kappa * (1 - m))
        parts.append(
            g.assign(
                kappa=kappa,
                uniform=uniform,
                fitted=fitted,
                kl_uniform=bernoulli_kl_bits(g["p"], uniform),
                kl_fitted=bernoulli_kl_bits(g["p"], fitted),
            )
        )
    return pd.concat(parts, ignore_index=True)


def kl_curve(compared: pd.DataFrame, bootstrap: int = 1000) -> pd.DataFrame:
    """Mean KL bits against n per (model, condition, reference prior), with a bootstrap
    interval over sequences."""
    rows = []
    for (model, condition, n), g in compared.groupby(["model", "condition", "n"], sort=True):
        for ref in ("uniform", "fitted"):
            mean, lo, hi = bootstrap_mean_ci(g[f"kl_{ref}"].to_numpy(), n_boot=bootstrap)
            rows.append(
                {"model": model, "condition": condition, "n": int(n), "prior": ref,
                 "kl_bits": mean, "kl_lo": lo, "kl_hi": hi}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, float)
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, np.asarray(y, float), 1)[0])


def evidence_against_statement(
    readings: pd.DataFrame, model: str, bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float, float, float, float]:
    """(slope on evidence, slope on the statement, their difference and its bootstrap
    interval over sequences). The evidence slope regresses the model's P(heads) after all N
    flips of the evidence-only sequences on the frequency of heads among them; the statement
    slope regresses P(heads) before any flip on the stated bias. Gupta et al. find evidence
    outweighs the statement: a positive difference."""
    ev = readings[(readings["model"] == model) & (readings["condition"] == "evidence")]
    st = readings[(readings["model"] == model) & (readings["condition"] == "stated")]
    last = ev[ev["n"] == ev["n"].max()]
    first = st[st["n"] == 0]
    freq = last["heads"].to_numpy(float) / max(int(ev["n"].max()), 1)
    s_ev = _slope(freq, last["p"].to_numpy())
    s_st = _slope(first["bias"].to_numpy(), first["p"].to_numpy())
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(bootstrap):
        i = rng.integers(0, len(last), len(last))
        j = rng.integers(0, len(first), len(first))
        diffs.append(
            _slope(freq[i], last["p"].to_numpy()[i])
            - _slope(first["bias"].to_numpy()[j], first["p"].to_numpy()[j])
        )
    diffs_arr = np.asarray(diffs)
    diffs_arr = diffs_arr[np.isfinite(diffs_arr)]
    if len(diffs_arr) < 2:
        return s_ev, s_st, s_ev - s_st, float("nan"), float("nan")
    lo, hi = np.percentile(diffs_arr, [2.5, 97.5])
    return s_ev, s_st, s_ev - s_st, float(lo), float(hi)


# ---- the result ---------------------------------------------------------------------------------
@dataclass
class CoinFlipResult(FrameResult):
    """The coin-flip protocol's readings (see run_coin_flips), judged by three rules: the
    prior (is the coin fair before any flip?), the evidence against a stated bias, and the
    updating against the exact Beta-Binomial posterior predictive."""

    SCHEMA: ClassVar[Schema] = {
        "readings": {
            "model": "O", "condition": "O", "variant": "i", "bias": "f", "seed": "i",
            "n": "i", "heads": "i", "p": "f", "mass": "f",
        }
    }  # fmt: skip

    readings: pd.DataFrame
    bootstrap: int = 1000
    # comparison(readings), computed once: verdicts, the KL curve and the figure share it
    _compared: pd.DataFrame | None = field(
        default=None, init=False, repr=False, compare=False, metadata={"saved": False}
    )

    @property
    def frame(self) -> pd.DataFrame:
        return self.readings

    def compared(self) -> pd.DataFrame:
        """Readings with the exact posterior predictives and the KL bits from each."""
        if self._compared is None:
            self._compared = comparison(self.readings)
        return self._compared

    def kl_curve(self) -> pd.DataFrame:
        """Mean KL bits per flip against n, with intervals over sequences."""
        compared = self.compared()
        return kl_curve(compared, self.bootstrap) if len(compared) else pd.DataFrame()

    def verdicts(self) -> list[Verdict]:
        out = []
        compared = self.compared()
        for model in dict.fromkeys(self.readings["model"]):
            out += _model_verdicts(self.readings, compared, model, self.bootstrap)
        return out


def _model_verdicts(
    readings: pd.DataFrame, compared: pd.DataFrame, model: str, bootstrap: int
) -> list[Verdict]:
    prior = readings[(readings["model"] == model) & (readings["condition"] == "prior")]
    mean, lo, hi = bootstrap_mean_ci(prior["p"].to_numpy(), n_boot=bootstrap)
    mass = readings.loc[readings["model"] == model, "mass"]
    out = [
        Verdict.from_rules(
            f"{model}'s prior for a coin is fair (P(heads) = 0.5 before any flip)",
            f"P(heads) {estimate(mean, lo, hi)} over {len(prior)} phrasings (raw mass on "
            f"heads/tails {prior['mass'].mean():.2f}); Gupta et al. (2025) find models' coin "
            "priors miscalibrated",
            [PRIOR.status(lo, hi, centre=0.5)],
        )
    ]
    if (readings["condition"] == "stated").any():
        s_ev, s_st, diff, d_lo, d_hi = evidence_against_statement(readings, model, bootstrap)
        out.append(
            Verdict.from_rules(
                f"in-context evidence moves {model} more than a stated bias",
                f"slope on the observed frequency {s_ev:.3f}, on the stated bias {s_st:.3f}; "
                f"difference {estimate(diff, d_lo, d_hi, '+.3f')}; Gupta et al. (2025) find "
                "evidence outweighs explicit bias instructions",
                [EVIDENCE.status(d_lo, d_hi)],
            )
        )
    ev = compared[(compared["model"] == model) & (compared["condition"] == "evidence")]
    ev = ev[ev["n"] >= 1]
    if len(ev):
        per_seq = ev.groupby(["bias", "seed"])
        fitted = per_seq["kl_fitted"].mean().to_numpy()
        uniform = per_seq["kl_uniform"].mean().to_numpy()
        f, f_lo, f_hi = bootstrap_mean_ci(fitted, n_boot=bootstrap)
        u, u_lo, u_hi = bootstrap_mean_ci(uniform, n_boot=bootstrap)
        kappa = float(ev["kappa"].iloc[0])
        all_ev = compared[(compared["model"] == model) & (compared["condition"] == "evidence")]
        k_lo, k_hi = kappa_interval(all_ev, min(bootstrap, KAPPA_BOOTSTRAP))
        k_text = estimate(kappa, k_lo, k_hi, ".2f", bound=KAPPA_BOUNDS[1])
        n_max = int(ev["n"].max())
        weight = (n_max / (k_hi + n_max), n_max / (k_lo + n_max))
        spread = float(np.sum((ev["p"] - ev["p"].mean()) ** 2))
        r2 = (
            f"{1 - float(np.sum((ev['p'] - ev['fitted']) ** 2)) / spread:.2f}"
            if spread > 1e-9
            else "undefined: the predictive does not vary"
        )
        out.append(
            Verdict.from_rules(
                f"{model} updates on coin flips like the Beta-Binomial posterior",
                f"mean KL from the posterior predictive with the fitted prior (kappa "
                f"{k_text}, prior mean its own n = 0 reading; R^2 {r2}; weight of the "
                f"flips {estimate(n_max / (kappa + n_max), *weight)}) "
                f"{estimate(f, f_lo, f_hi, '.4f')} bits/flip, with the uniform prior "
                f"{estimate(u, u_lo, u_hi, '.4f')}; over {len(fitted)} sequences and "
                f"{int(ev['n'].max())} flips (raw mass on heads/tails {mass.mean():.2f}); Gupta "
                "et al. (2025) find updates broadly Bayesian, deviations mostly from the prior",
                [UPDATING.status(f_lo, f_hi), WEIGHT.status(*weight)],
            )
        )
    return out
