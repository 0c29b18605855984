"""Theorem 2 made measurable: finite Dirichlet mixtures approximating a prior over multinomials.

Fit mixtures with k = 1..k_max to samples from a prior (synthetic, or real LM next-token rows
restricted to a shared top-V support) and score held-out points. For priors with a known
density the gap to the true prior's held-out NLL is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes import DirichletMixture, LogisticNormal, SpikyPrior
from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel
from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Status, Verdict

SOURCES = ("logistic-normal", "spiky", "lm")
CLAIM = "Theorem 2: finite Dirichlet mixtures approximate the prior better than one Dirichlet"
GAIN = Rule("the best k's held-out gain over k = 1", above=0, unit=" nats/point", id="prior.gain")


@dataclass
class PriorApproxResult(FrameResult):
    """frame: one row per k with train/held-out NLL per point (nats), the held-out gain over
    k=1 with a bootstrap CI, AIC/BIC, and (when the truth is known) the gap to the true prior."""

    SCHEMA: ClassVar[Schema] = {
        "frame": {
            "k": "i", "train_nll": "f", "heldout_nll": "f", "gain_vs_k1": "f", "gain_lo": "f",
            "gain_hi": "f",
        }
    }  # fmt: skip

    source: str
    frame: pd.DataFrame
    meta: dict
    mixtures: list[DirichletMixture] = field(
        default_factory=list, repr=False, metadata={"saved": False}
    )
    test_points: np.ndarray | None = field(default=None, repr=False)
    train_points: np.ndarray | None = field(default=None, repr=False)

    @property
    def best_k(self) -> int:
        return int(self.frame.loc[self.frame["heldout_nll"].idxmin(), "k"])

    def verdicts(self) -> list[Verdict]:
        return [self.verdict()]

    def verdict(self) -> Verdict:
        row = self.frame.set_index("k").loc[self.best_k]
        gain, lo, hi = row["gain_vs_k1"], row["gain_lo"], row["gain_hi"]
        text = (
            f"{self.source}, V={self.meta['V']}: best held-out k={self.best_k}, NLL "
            f"{row['heldout_nll']:.4f} nats/point, gain over k=1 {gain:.4f} "
            f"[{lo:.4f}, {hi:.4f}] (95% bootstrap CI over {self.meta['n_test']} held-out points)"
        )
        if "gap_to_truth" in self.frame:
            gap1 = self.frame.set_index("k").loc[1, "gap_to_truth"]
            text += f"; gap to the true prior {gap1:.4f} at k=1 -> {row['gap_to_truth']:.4f}"
        if self.frame["k"].max() < 2:  # no mixture was fitted: nothing was compared
            why = "only k = 1 was fitted, so no mixture was compared with one Dirichlet"
            return Verdict(
                CLAIM, "inconclusive", f"{text} ({why})", subject=self.source,
                **GAIN.record(gain, lo, hi),
            )  # fmt: skip
        best: Status = "not supported" if self.best_k == 1 else "supported"
        return Verdict.from_rules(
            CLAIM, text, [best, GAIN.status(lo, hi)], subject=self.source,
            **GAIN.record(gain, lo, hi),
        )  # fmt: skip


def sample_prior(
    source: str, v: int, n: int, seed: int = 0
) -> tuple[np.ndarray, LogisticNormal | None]:
    """n points from a synthetic prior and the prior object (for its density, if known)."""
    if source == "logistic-normal":
        prior = LogisticNormal.random(v, seed=seed)
        return prior.rvs(n, seed + 1), prior
    if source == "spiky":
        return SpikyPrior(v).rvs(n, seed + 1), None
    raise BayesmatrixError(f"unknown synthetic prior '{source}'; choose from {SOURCES[:2]}")


def approximate_prior(
    train: np.ndarray,
    test: np.ndarray,
    k_max: int = 6,
    source: str = "custom",
    truth: LogisticNormal | None = None,
    restarts: int = 3,
    seed: int = 0,
) -> PriorApproxResult:
    """Fit k = 1..k_max mixtures on train; score test points; bootstrap gains over k=1."""
    if k_max < 1:
        raise BayesmatrixError("k_max must be at least 1")
    if len(train) < 2 * k_max or len(test) < 10:
        raise BayesmatrixError(
            f"need at least {2 * k_max} training and 10 held-out points, got {len(train)} and "
            f"{len(test)}"
        )
    mixtures, per_point = [], []
    for k in range(1, k_max + 1):
        mix = DirichletMixture.fit(train, k, restarts=restarts, random_state=seed)
        mixtures.append(mix)
        per_point.append(-np.asarray(mix.logpdf(test)))
    truth_nll = -np.asarray(truth.logpdf(test)) if truth is not None else None
    rows = []
    for k, (mix, nll) in enumerate(zip(mixtures, per_point, strict=True), start=1):
        gain, lo, hi = bootstrap_mean_ci(per_point[0] - nll, seed=seed)
        fit = mix.fit_
        assert fit is not None  # fitted above
        row = {
            "k": k,
            "train_nll": -fit.loglik / len(train),
            "heldout_nll": float(nll.mean()),
            "heldout_nll_se": float(nll.std(ddof=1) / np.sqrt(len(nll))),
            "gain_vs_k1": gain,
            "gain_lo": lo,
            "gain_hi": hi,
            "aic": fit.aic,
            "bic": fit.bic,
            "n_params": fit.n_params,
        }
        if truth_nll is not None:
            row["gap_to_truth"] = float((nll - truth_nll).mean())
        rows.append(row)
    meta = {
        "V": int(train.shape[1]),
        "n_train": len(train),
        "n_test": len(test),
        "k_max": k_max,
        "restarts": restarts,
        "seed": seed,
    }
    return PriorApproxResult(source, pd.DataFrame(rows), meta, mixtures, test, train)


def lm_rows(lm: LanguageModel, text: str, v: int, n: int, window: int = 256) -> np.ndarray:
    """n next-token rows of an LM along text, restricted to the V tokens with the highest
    mean probability across those rows, and renormalised over that shared support."""
    ids, _ = lm.tokenize(text)
    if len(ids) < n + 1:
        raise BayesmatrixError(f"text has {len(ids)} tokens; need more than n={n}")
    chunks = [lm.with_bos(ids[i : i + window]) for i in range(0, n, window)]
    traces = lm.trace_many(chunks, batch_size=4, top_k=0, rows="float32")
    # a BOS prepended to a later window is not a position of the text: drop its row
    skip = 1 if lm.adds_bos else 0
    full = [t.rows for t in traces if t.rows is not None]
    assert len(full) == len(traces)  # asked for rows
    parts = [r if i == 0 else r[skip:] for i, r in enumerate(full)]
    rows = np.concatenate(parts)[:n].astype(np.float64)
    support = np.argsort(-rows.mean(axis=0))[:v]
    restricted = rows[:, support] + 1e-12
    return restricted / restricted.sum(axis=1, keepdims=True)
