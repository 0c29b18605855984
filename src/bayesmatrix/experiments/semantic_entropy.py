"""Hallucination signals against the field's anchor, semantic entropy (Farquhar et al., Nature
2024): on the shipped factual questions, N sampled answers per question are clustered by
meaning and the entropy over clusters is compared with naive (sequence) entropy, the answer
row's entropy from one forward pass and its top-1 probability, by AUROC and risk-coverage,
each with bootstrap intervals and its cost in forward passes.

Clustering: bidirectional entailment needs an NLI model, which is not available offline here;
answers are clustered by normalised-string equality instead (SQuAD normalisation: lower case,
no punctuation or articles, first line and sentence only), the fallback the semantic-uncertainty
code's exact-match setting amounts to for short factual answers. Paraphrases ("Paris" / "the
city of Paris") therefore count as different meanings: semantic entropy is over-estimated,
never under-estimated, by this choice.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayesmatrix.bayes.stats import auroc
from bayesmatrix.data.qa import Fact, qa_prompt
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.frame import ModelFrame, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

# confidence = minus the signal for entropies; larger is more confident for every entry
SIGNALS = {
    "semantic_entropy": -1,
    "naive_entropy": -1,
    "row_entropy": -1,
    "top1_prob": 1,
}
# row entropy "matches" semantic entropy when its AUROC is lower by less than this
MARGIN = 0.05
AS_GOOD = Rule(
    "the paired-bootstrap AUROC(semantic entropy) - AUROC(row entropy)",
    below=MARGIN,
    id="semantic-entropy.as-good",
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(answer: str) -> str:
    """First line and first sentence, lower case, without punctuation, articles or extra
    whitespace (SQuAD's answer normalisation)."""
    text = answer.strip().split("\n")[0]
    text = re.split(r"(?<=[a-z0-9])\.(\s|$)", text, maxsplit=1, flags=re.I)[0]
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def clusters(answers: Sequence[str]) -> np.ndarray:
    """Cluster index of each answer: equal normalised strings share a cluster (first seen,
    first numbered)."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(normalise(a), len(seen)) for a in answers])


def semantic_entropy(cluster_ids: np.ndarray, logprobs: np.ndarray | None = None) -> float:
    """Entropy (nats) over meaning clusters. Without log-probabilities: the discrete estimator,
    cluster frequencies among the samples. With each sample's (length-normalised) sequence
    log-probability: cluster mass = logsumexp over its samples, normalised over clusters
    (the semantic-uncertainty code's estimator)."""
    ids = np.asarray(cluster_ids)
    if logprobs is None:
        p = np.bincount(ids) / len(ids)
    else:
        mass = np.array([logsumexp(np.asarray(logprobs)[ids == c]) for c in np.unique(ids)])
        p = np.exp(mass - logsumexp(mass))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def naive_entropy(logprobs: Sequence[np.ndarray]) -> float:
    """Monte Carlo predictive entropy of the answer sequences, length-normalised: minus the
    mean over samples of the mean token log-probability (nats per token)."""
    return float(-np.mean([lp.mean() if len(lp) else 0.0 for lp in logprobs]))


def is_correct(answer: str, reference: str) -> bool:
    """The normalised reference appears, as whole words, in the normalised answer."""
    a, r = normalise(answer).split(), normalise(reference).split()
    return bool(r) and any(a[i : i + len(r)] == r for i in range(len(a) - len(r) + 1))


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, float]:
    """Risk (error rate among the answered) when answering the k most confident questions,
    k = 1..n (ties broken by order), and its mean over k: the area under the risk-coverage
    curve (AURC; lower is better, the error rate for an uninformative signal)."""
    order = np.argsort(-np.asarray(confidence, dtype=float), kind="stable")
    wrong = 1 - np.asarray(correct, dtype=float)[order]
    risk = np.cumsum(wrong) / np.arange(1, len(wrong) + 1)
    return risk, float(risk.mean())


@dataclass
class SemanticEntropyResult(ModelFrame):
    """One row per (question, with_context): the greedy answer and whether it is right, each
    signal, and the cost in forward passes of the sampled and single-pass signals."""

    SCHEMA: ClassVar[Schema] = {
        "frame": {
            "question": "O", "answer": "O", "with_context": "b", "correct": "b",
            **{signal: "f" for signal in SIGNALS},
        }
    }  # fmt: skip

    def summary(self, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
        """Per with_context and signal: AUROC of confidence for a right answer and AURC, with
        paired bootstrap intervals (the same resampled questions for every signal), and the
        AUROC difference semantic entropy minus row entropy."""
        rows = []
        rng = np.random.default_rng(seed)
        for with_context, g in self.frame.groupby("with_context"):
            y = g["correct"].to_numpy()
            conf = {s: sign * g[s].to_numpy() for s, sign in SIGNALS.items()}
            boots: dict[str, list] = {s: [] for s in [*SIGNALS, "difference"]}
            aurcs: dict[str, list] = {s: [] for s in SIGNALS}
            for _ in range(n_boot):
                idx = rng.integers(len(y), size=len(y))
                if y[idx].all() or not y[idx].any():
                    continue
                values = {s: auroc(c[idx], y[idx]) for s, c in conf.items()}
                for s in SIGNALS:
                    boots[s].append(values[s])
                    aurcs[s].append(risk_coverage(conf[s][idx], y[idx])[1])
                boots["difference"].append(values["semantic_entropy"] - values["row_entropy"])
            both = 0 < y.sum() < len(y)
            point = {s: auroc(c, y) if both else float("nan") for s, c in conf.items()}
            point["difference"] = point["semantic_entropy"] - point["row_entropy"]
            for s in [*SIGNALS, "difference"]:
                lo, hi = _interval(boots[s])
                row = {"with_context": with_context, "signal": s, "n": len(y)}
                row |= {"accuracy": float(y.mean()), "auroc": point[s]}
                row |= {"auroc_lo": lo, "auroc_hi": hi}
                if s in SIGNALS:
                    a_lo, a_hi = _interval(aurcs[s])
                    row |= {"aurc": risk_coverage(conf[s], y)[1], "aurc_lo": a_lo, "aurc_hi": a_hi}
                    column = "sampled_passes" if "entropy" in s and s != "row_entropy" else None
                    row["forward_passes"] = float(g[column].mean()) if column else 1.0
                rows.append(row)
        return pd.DataFrame(rows)

    def verdicts(self) -> list[Verdict]:
        out = []
        summary = self.summary()
        for with_context, g in summary.groupby("with_context"):
            s = g.set_index("signal")
            where = "with the retrieved fact" if with_context else "without context"
            d = s.loc["difference"]
            text = (
                f"{self.model}, {where} (n={int(d['n'])}, greedy accuracy {d['accuracy']:.0%}): "
                + "; ".join(
                    f"{name} AUROC {s.loc[name, 'auroc']:.3f} [{s.loc[name, 'auroc_lo']:.3f}, "
                    f"{s.loc[name, 'auroc_hi']:.3f}], AURC {s.loc[name, 'aurc']:.3f}, "
                    f"{s.loc[name, 'forward_passes']:.0f} forward passes"
                    for name in SIGNALS
                )
                + f"; semantic minus row entropy AUROC {d['auroc']:+.3f} "
                f"[{d['auroc_lo']:+.3f}, {d['auroc_hi']:+.3f}]"
            )
            claim = (
                f"One forward pass's row entropy flags wrong answers as well as semantic entropy "
                f"(AUROC within {MARGIN})"
            )
            out.append(
                Verdict.from_rules(
                    claim,
                    text,
                    [AS_GOOD.status(d["auroc_lo"], d["auroc_hi"])],
                    subject=self.model,
                    **AS_GOOD.record(d["auroc"], d["auroc_lo"], d["auroc_hi"]),
                )
            )
        return out


def _interval(values: list) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def run_semantic_entropy(
    lm: LanguageModel,
    facts: Sequence[Fact],
    samples: int = 10,
    max_new_tokens: int = 12,
    temperature: float = 1.0,
    seed: int = 0,
) -> SemanticEntropyResult:
    """Per question, without and with the supporting fact: the greedy answer (is it right?),
    `samples` answers at `temperature` for semantic and naive entropy, and the entropy and
    top-1 probability of the row the greedy answer's first content token came from (the
    single-pass signals; the row that hallucination's claim reads for the reference answer)."""
    if samples < 2:
        raise BayesmatrixError("semantic entropy needs at least 2 sampled answers per question")
    rows = []
    for with_context in (False, True):
        for q, fact in enumerate(facts):
            prompt = qa_prompt(fact.question, fact.context if with_context else None)
            (greedy,) = lm.sample(prompt, 1, max_new_tokens, temperature=0.0)
            drawn = lm.sample(prompt, samples, max_new_tokens, temperature, seed=seed + q)
            ids = clusters([d.text for d in drawn])
            rows.append(
                {
                    "question": fact.question,
                    "answer": fact.answer,
                    "with_context": with_context,
                    "greedy": greedy.text.strip(),
                    "correct": is_correct(greedy.text, fact.answer),
                    "semantic_entropy": semantic_entropy(ids),
                    "semantic_entropy_weighted": semantic_entropy(
                        ids,
                        np.array([d.logprobs.mean() if len(d.logprobs) else 0.0 for d in drawn]),
                    ),
                    "naive_entropy": naive_entropy([d.logprobs for d in drawn]),
                    "row_entropy": greedy.content_row_entropy,
                    "top1_prob": greedy.content_row_top1,
                    "clusters": int(ids.max() + 1),
                    "samples": [d.text.strip() for d in drawn],
                    "sampled_passes": max(len(d.tokens) for d in drawn) + 1,
                }
            )
    return SemanticEntropyResult(lm.name, pd.DataFrame(rows))
