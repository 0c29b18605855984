"""The coin-flip protocol of Gupta et al., "Enough Coin Flips Can Make LLMs Act Bayesian"
(ACL 2025, code rcorona/llm-coin-flips): the evidence is coin flips of known bias, so the
exact Bayesian posterior predictive is known, and the model's predictive can be held to it.

What we follow: their 50 prompt phrasings ("I just flipped a coin, and it came up heads,
then tails, then ...", data/coinflips/gupta_prompts.json), each sequence read under several
of them and the readings averaged, as they average; their explicit-bias sentence ("When I
flip coins they land on heads {p}% of the time."); P(heads) as the next token's probability
of " heads" renormalised over " heads" and " tails"; biases on their grid, up to 100 flips;
their posterior chains (the bias switches mid-sequence, 0.75 -> 0.25) beside a discounting
filter (gamma 0.5, their reference for forgetting). Where we differ: the model is read
prequentially, every flip's predictive from one forward pass; positions where the two outcome
words carry less than MIN_MASS of the raw probability are left out and counted (the model
expects another word there, and the renormalised P(heads) would be the prompt's artefact);
the stated bias is judged in a conflict design (a statement that contradicts the flips)
rather than by slopes; and updating is judged by the nested learners of bayes.updating (the
rule of experiments.updating, as for ICL), with the KL from the exact posterior predictive
and from their filter as description.

Readings are one frame: per (condition, variant, bias, stated, seed) sequence and n = 0..N,
the heads seen so far and the model's renormalised P(heads) and raw mass. Conditions: prior
(each phrasing, no flip), evidence (flips of a bias), chain (the bias switches halfway),
conflict (flips of a bias after a sentence stating the opposite one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.bayes.updating import UpdatingFit, fit_updating, predictive
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments import updating
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict, estimate

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

OUTCOMES = ("heads", "tails")
SEPARATOR = ", then"
CONDITIONS = ("prior", "evidence", "chain", "conflict")
MIN_MASS = 0.1  # a position counts when " heads" and " tails" carry at least this share
GAMMA = 0.5  # the discounting filter Gupta et al. compare posterior chains with

PRIOR = Rule(
    "P(heads) before any flip, over Gupta et al.'s phrasings",
    within=0.05,
    centre="0.5",
    id="coin-flips.prior",
)
CONFLICT = Rule(
    "after the flips, how much closer P(heads) is to the flips' frequency than to a stated "
    "bias that contradicts them (probability)",
    above=0,
    id="coin-flips.evidence",
)
UPDATING = updating.updating_rule("coin-flips")


@cache
def phrasings() -> tuple[tuple[str, ...], str]:
    """Gupta et al.'s 50 phrasings (trailing space removed: the outcome word brings its own)
    and their bias sentence."""
    path = files("bayesmatrix.data").joinpath("coinflips/gupta_prompts.json")
    body = json.loads(path.read_text(encoding="utf-8"))
    return tuple(p.rstrip() for p in body["phrasings"]), body["statement"] + " "


@dataclass(frozen=True)
class CoinPrompt:
    """How a sequence is put to the model: a phrasing, and optionally a stated bias."""

    variant: str
    stated: float | None = None  # the bias the prompt states (Gupta et al.'s needle)

    def head(self) -> str:
        if self.stated is None:
            return self.variant
        return phrasings()[1].format(percent=round(100 * self.stated)) + self.variant


def outcome_tokens(lm: LanguageModel) -> tuple[int, int]:
    """The token ids of " heads" and " tails" (each must be one token after a space)."""
    ids = [lm.encode(" " + w) for w in OUTCOMES]
    if any(len(i) != 1 for i in ids):
        raise BayesmatrixError(
            f"{lm.name} does not tokenise ' heads' and ' tails' as one token each ({ids}); "
            "the coin-flip protocol reads them as the next token"
        )
    return ids[0][0], ids[1][0]


def _requests(
    lm: LanguageModel, prompt: CoinPrompt, flips: Sequence[int]
) -> tuple[list[int], list[tuple[int, list[int]]]]:
    """The ids of "<head> heads, then tails, then ..." and, before each flip and after the
    last, a request for the two outcome tokens."""
    heads_id, tails_id = outcome_tokens(lm)
    words = [OUTCOMES[0] if z else OUTCOMES[1] for z in flips]
    head = prompt.head()
    text = head + "".join(f" {w}{SEPARATOR}" for w in words)
    ids, offsets = lm.encode_offsets(text)
    bos = lm.bos_id if lm.adds_bos else None
    shift = 0 if bos is None else 1
    full = list(ids) if bos is None else [bos, *ids]
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
    return full, [(c, [tok]) for c in cuts for tok in (heads_id, tails_id)]


def read_flips(lm: LanguageModel, prompt: CoinPrompt, flips: Sequence[int]) -> pd.DataFrame:
    """One forward pass; for n = 0..len(flips) the model's P(heads) for flip n+1 after the
    first n (renormalised over heads/tails), the raw mass on the two, and the heads seen."""
    (frame,) = read_many(lm, [(prompt, flips)])
    return frame


def read_many(
    lm: LanguageModel, items: Sequence[tuple[CoinPrompt, Sequence[int]]]
) -> list[pd.DataFrame]:
    """read_flips for several (prompt, flips) items, read together (a served model sends
    their requests at once)."""
    requests = [_requests(lm, prompt, flips) for prompt, flips in items]
    readings = lm.continuation_logprobs_many(requests)
    out = []
    for (_, flips), logp in zip(items, readings, strict=True):
        p = np.exp(np.asarray(logp).reshape(-1, 2))
        mass = p.sum(axis=1)
        seen = np.concatenate([[0], np.cumsum(flips)]).astype(int)
        out.append(
            pd.DataFrame({"n": np.arange(len(p)), "heads": seen, "p": p[:, 0] / mass, "mass": mass})
        )
    return out


def draw_flips(bias: float, n: int, seed: int, after: float | None = None) -> np.ndarray:
    """n flips with P(heads) = bias (switching to `after` from halfway: a posterior chain),
    seeded by (seed, bias, after): one sequence whatever the prompt it is read under."""
    key = [seed, round(bias * 1e6), 11] + ([] if after is None else [round(after * 1e6)])
    rng = np.random.default_rng(key)
    p = np.full(n, bias)
    if after is not None:
        p[n // 2 :] = after
    return (rng.random(n) < p).astype(int)


def run_coin_flips(
    lm: LanguageModel,
    biases: Sequence[float],
    seeds: Sequence[int],
    flips: int,
    variants: int,
    chain: Sequence[float] = (),
    conflict: Sequence[float] = (),
) -> pd.DataFrame:
    """Every reading of the protocol for one model: the prior over all 50 phrasings, and per
    sequence (evidence of each bias, a chain from chain[0] to chain[1], a conflict stating
    each of `conflict` against flips of its opposite) one reading under each of the first
    `variants` phrasings."""
    texts = phrasings()[0]
    if not 1 <= variants <= len(texts):
        raise BayesmatrixError(f"variants must lie in 1..{len(texts)}, not {variants}")
    items: list[tuple[CoinPrompt, Sequence[int]]] = []
    keys: list[tuple[str, int, float, float | None, float | None, int]] = []
    for v, text in enumerate(texts):
        items.append((CoinPrompt(text), []))
        keys.append(("prior", v, np.nan, np.nan, np.nan, -1))
    designs: list[tuple[str, float, float | None, float | None]]
    designs = [("evidence", b, None, None) for b in biases]
    if chain:
        designs.append(("chain", chain[0], chain[1], None))
    designs += [("conflict", 1 - s, None, s) for s in conflict]
    for condition, bias, after, stated in designs:
        for seed in seeds:
            seq = draw_flips(bias, flips, seed, after)
            for v in range(variants):
                items.append((CoinPrompt(texts[v], stated), seq.tolist()))
                keys.append((condition, v, bias, after, stated, seed))
    frames = read_many(lm, items)
    rows = [
        frame.assign(condition=c, variant=v, bias=b, after=a, stated=s, seed=seed)
        for frame, (c, v, b, a, s, seed) in zip(frames, keys, strict=True)
    ]
    out = pd.concat(rows, ignore_index=True)
    for column in ("bias", "after", "stated"):
        out[column] = out[column].astype(float)
    out.insert(0, "model", lm.name)
    return out[[*COLUMNS]]


COLUMNS = ("model", "condition", "variant", "bias", "after", "stated", "seed", "n", "heads",
           "p", "mass")  # fmt: skip
SEQUENCE = ["model", "condition", "bias", "after", "stated", "seed"]


def sequences(readings: pd.DataFrame) -> pd.DataFrame:
    """One row per (sequence, n) of the flip conditions: P(heads) averaged over the phrasings
    whose outcome words carry at least MIN_MASS there (NaN when none does: left out), the
    sequence's prior (its n = 0 readings averaged), the flip that follows, and how many
    phrasings were left out. Readings are averaged on the log-odds scale: averaging
    probabilities would pull a confident curve toward 0.5 the more its phrasings disagree,
    which looks like forgetting to a fit."""
    frame = readings[readings["condition"] != "prior"].copy()
    frame["kept"] = frame["mass"] >= MIN_MASS
    odds = logit(np.clip(frame["p"].to_numpy(float), 1e-6, 1 - 1e-6))
    frame["odds"] = odds
    frame["odds_kept"] = frame["odds"].where(frame["kept"])
    keys = [k for k in SEQUENCE]
    grouped = frame.groupby([*keys, "n"], dropna=False, sort=True)
    out = grouped.agg(p=("odds_kept", "mean"), prior=("odds", "mean"), heads=("heads", "first"),
                      kept=("kept", "sum"), read=("kept", "size")).reset_index()  # fmt: skip
    out["p"], out["prior"] = expit(out["p"]), expit(out["prior"])
    first = out["n"] == 0
    out["prior"] = (
        out["prior"].where(first).groupby([out[k].fillna(-1) for k in keys]).transform("max")
    )
    out["next"] = out.groupby([out[k].fillna(-1) for k in keys])["heads"].shift(-1) - out["heads"]
    return out


def _arrays(seqs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(readings, priors, flips) [S, N] of sequences (the reading after the last flip has no
    flip to predict and is left out). A reading of a context another sequence already read
    (sequences that begin with the same flips read the same prompt: every one at n = 0) is
    one observation, not several: the copies are left out (NaN)."""
    keys = [k for k in SEQUENCE]
    q, m, o = [], [], []
    seen: set[tuple] = set()
    for _, g in seqs.groupby([seqs[k].fillna(-1) for k in keys], sort=True):
        g = g.sort_values("n").iloc[:-1]
        flips = g["next"].to_numpy(float)
        readings = g["p"].to_numpy(float).copy()
        stated = g["stated"].iloc[0]
        for t in range(len(flips)):
            context = (None if stated != stated else float(stated), *flips[:t].astype(int))
            if context in seen:
                readings[t] = np.nan
            seen.add(context)
        q.append(readings)
        m.append(np.clip(g["prior"].to_numpy(float), 1e-4, 1 - 1e-4))
        o.append(flips)
    return np.array(q), np.array(m), np.array(o)


def bernoulli_kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)) in bits, elementwise (0 log 0 = 0)."""
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    q = np.clip(np.asarray(q, float), 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / q), 0.0)
        zero = np.where(p < 1, (1 - p) * np.log2(np.where(p < 1, 1 - p, 1) / (1 - q)), 0.0)
    return np.maximum(one + zero, 0.0)  # rounding never makes a divergence negative


def references(seqs: pd.DataFrame, kappa: float) -> pd.DataFrame:
    """Sequences with the exact posterior predictives (uniform prior; the fitted kappa with
    the sequence's own prior mean), Gupta et al.'s discounting filter (gamma = GAMMA, same
    prior), and the KL bits of the model from each."""
    parts = []
    keys = [k for k in SEQUENCE]
    for _, g in seqs.groupby([seqs[k].fillna(-1) for k in keys], sort=True):
        g = g.sort_values("n").copy()
        flips = g["next"].to_numpy(float)[:-1]
        m = float(np.clip(g["prior"].iloc[0], 1e-4, 1 - 1e-4))
        n, heads = g["n"].to_numpy(float), g["heads"].to_numpy(float)
        g["uniform"] = beta_bernoulli_predictive(heads, n, 1.0, 1.0)
        g["fitted"] = beta_bernoulli_predictive(heads, n, kappa * m, kappa * (1 - m))
        padded = np.append(flips, 0.0)[None, :]  # the filter's prediction at n uses n flips
        g["filter"] = predictive(np.full((1, len(g)), m), padded, kappa, GAMMA)[0]
        for ref in ("uniform", "fitted", "filter"):
            kl = bernoulli_kl_bits(g["p"].fillna(0.5), g[ref])
            g[f"kl_{ref}"] = np.where(g["p"].notna(), kl, np.nan)
        parts.append(g)
    if not parts:  # no flip sequences (a prior-only run): the same columns, no rows
        columns = ["uniform", "fitted", "filter", "kl_uniform", "kl_fitted", "kl_filter"]
        return seqs.iloc[:0].assign(**{c: pd.Series(dtype=float) for c in columns})
    return pd.concat(parts, ignore_index=True)


@dataclass
class CoinFlipResult(FrameResult):
    """The coin-flip protocol's readings (see run_coin_flips), judged by three rules: the
    prior (is the coin fair before any flip?), a stated bias against contradicting flips,
    and the updating of the flip sequences (evidence and chain) against the nested learners."""

    SCHEMA: ClassVar[Schema] = {
        "readings": {
            "model": "O", "condition": "O", "variant": "i", "bias": "f", "after": "f",
            "stated": "f", "seed": "i", "n": "i", "heads": "i", "p": "f", "mass": "f",
        }
    }  # fmt: skip

    readings: pd.DataFrame
    bootstrap: int = 1000
    _fits: dict[str, UpdatingFit] = field(
        default_factory=dict, init=False, repr=False, compare=False, metadata={"saved": False}
    )

    @property
    def frame(self) -> pd.DataFrame:
        return self.readings

    def fit(self, model: str) -> UpdatingFit | None:
        """The nested learners fitted to a model's evidence and chain sequences."""
        if model not in self._fits:
            seqs = sequences(self.readings[self.readings["model"] == model])
            flips = seqs[seqs["condition"].isin(["evidence", "chain"])]
            if flips.empty or flips["p"].notna().sum() < 3:
                return None
            self._fits[model] = fit_updating(*_arrays(flips), shift_prior=True)
        return self._fits[model]

    def compared(self, model: str) -> pd.DataFrame:
        """A model's evidence and chain sequences with the reference predictives and KLs."""
        fit = self.fit(model)
        seqs = sequences(self.readings[self.readings["model"] == model])
        flips = seqs[seqs["condition"].isin(["evidence", "chain"])]
        return references(flips, fit.kappa if fit else 1e4)

    def kl_curve(self) -> pd.DataFrame:
        """Mean KL bits against n per (model, condition, reference), with a bootstrap interval
        over sequences."""
        rows = []
        for model in dict.fromkeys(self.readings["model"]):
            compared = self.compared(model)
            for (condition, n), g in compared.groupby(["condition", "n"], sort=True):
                for ref in ("uniform", "fitted", "filter"):
                    values = g[f"kl_{ref}"].dropna().to_numpy()
                    if not len(values):
                        continue
                    mean, lo, hi = bootstrap_mean_ci(values, n_boot=min(self.bootstrap, 500))
                    rows.append(
                        {
                            "model": model,
                            "condition": condition,
                            "n": int(n),
                            "prior": ref,
                            "kl_bits": mean,
                            "kl_lo": lo,
                            "kl_hi": hi,
                        }
                    )
        return pd.DataFrame(rows)

    def verdicts(self) -> list[Verdict]:
        out = []
        for model in dict.fromkeys(self.readings["model"]):
            out += self._model_verdicts(model)
        return out

    def _model_verdicts(self, model: str) -> list[Verdict]:
        mine = self.readings[self.readings["model"] == model]
        prior = mine[mine["condition"] == "prior"]
        kept = prior[prior["mass"] >= MIN_MASS]
        mean, lo, hi = bootstrap_mean_ci(kept["p"].to_numpy(), n_boot=self.bootstrap)
        out = [
            Verdict.from_rules(
                f"{model}'s prior for a coin is fair (P(heads) = 0.5 before any flip)",
                f"P(heads) {estimate(mean, lo, hi)} over {len(kept)} of Gupta et al.'s "
                f"{len(prior)} phrasings ({len(prior) - len(kept)} left out: heads/tails "
                f"carry under {MIN_MASS:g} of the mass there; mean raw mass "
                f"{prior['mass'].mean():.2f}); Gupta et al. (2025) find models' coin priors "
                "miscalibrated",
                [PRIOR.status(lo, hi, centre=0.5)],
                subject=model,
                **PRIOR.record(mean, lo, hi),
            )
        ]
        seqs = sequences(mine)
        conflict = seqs[(seqs["condition"] == "conflict")]
        if len(conflict):
            out.append(self._conflict_verdict(model, conflict))
        fit = self.fit(model)
        if fit is not None:
            out.append(self._updating_verdict(model, fit, seqs))
        return out

    def _conflict_verdict(self, model: str, conflict: pd.DataFrame) -> Verdict:
        """After the flips, is P(heads) closer to their frequency than to the stated bias?"""
        keys = [k for k in SEQUENCE]
        gaps, left_out = [], 0
        for _, g in conflict.groupby([conflict[k].fillna(-1) for k in keys], sort=True):
            last = g.sort_values("n").iloc[-1]
            if not np.isfinite(last["p"]):
                left_out += 1
                continue
            freq = last["heads"] / max(int(last["n"]), 1)
            gaps.append(abs(last["p"] - last["stated"]) - abs(last["p"] - freq))
        mean, lo, hi = bootstrap_mean_ci(np.array(gaps), n_boot=self.bootstrap)
        stated = ", ".join(f"{s:g}" for s in sorted(conflict["stated"].unique()))
        return Verdict.from_rules(
            f"in-context evidence moves {model} more than a stated bias that contradicts it",
            f"after {int(conflict['n'].max())} flips, P(heads) is closer to the flips' "
            f"frequency than to the stated bias by {estimate(mean, lo, hi, '+.3f')} over "
            f"{len(gaps)} sequences (stated {stated}, flips at the opposite bias; {left_out} left "
            "out for low mass); Gupta et al. (2025) find evidence outweighs explicit bias "
            "instructions",
            [CONFLICT.status(lo, hi)],
            subject=model,
            **CONFLICT.record(mean, lo, hi),
        )

    def _updating_verdict(self, model: str, fit: UpdatingFit, seqs: pd.DataFrame) -> Verdict:
        row = fit.to_dict()
        compared = self.compared(model)
        later = compared[(compared["n"] >= 1)]
        kl = {ref: later[f"kl_{ref}"].mean() for ref in ("uniform", "fitted", "filter")}
        flips = seqs[seqs["condition"].isin(["evidence", "chain"])]
        left = int((flips["kept"] < flips["read"]).sum())
        text = (
            f"{updating.evidence(row, 'flips')}; mean KL per flip from the exact posterior "
            f"predictive with the fitted kappa {kl['fitted']:.4f} bits, with the uniform prior "
            f"{kl['uniform']:.4f}, from Gupta et al.'s discounting filter (gamma {GAMMA:g}) "
            f"{kl['filter']:.4f}; {left} of {len(flips)} readings had a phrasing left out for "
            f"low mass; Gupta et al. (2025) find updates broadly Bayesian, with a shorter "
            "horizon in instruction-tuned models"
        )
        status, why = updating.judge(row)
        return Verdict(
            f"{model} updates on coin flips like the Beta-Binomial posterior",
            status,
            text + (f" ({why})" if why else ""),
            subject=model,
            **updating.record("coin-flips", row),
        )
