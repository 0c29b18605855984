"""Theorem 3 on a real model: as a prompt becomes more specific, rows concentrate.

Three ways of making a prompt more specific, each compared pairwise (less -> more specific):
more preceding context for the same next token, more in-context examples before the same
query, and a retrieved fact prepended to the same question. For each pair: whether the entropy
falls, and whether the more specific row majorizes the other (sorted partial sums dominate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.information import entropy
from bayesmatrix.bayes.stats import bootstrap_mean_ci, wilson_interval
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.frame import ModelFrame, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.data.qa import Fact
    from bayesmatrix.experiments.icl.tasks import Task
    from bayesmatrix.models import LanguageModel

MAJORIZATION_TOL = 1e-6

FALLS = Rule("the mean entropy change", below=0, unit=" bits", id="entropy.falls")
MOSTLY = Rule("the share of pairs where entropy falls (Wilson)", above=0.5, id="entropy.mostly")


def entropy_bits(rows: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of rows (last axis)."""
    return entropy(rows, base=2)


def majorizes(p: np.ndarray, q: np.ndarray, tol: float = MAJORIZATION_TOL) -> bool:
    """p majorizes q: every partial sum of p sorted descending is >= q's (up to tol), with
    equal totals (within 1e-4; both are then renormalised). A majorizing row is more
    concentrated, so its entropy is no larger."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise BayesmatrixError(f"rows differ in shape: {p.shape} vs {q.shape}")
    if abs(p.sum() - q.sum()) > 1e-4 * max(1.0, abs(q.sum())):
        raise BayesmatrixError("majorization compares vectors with equal totals")
    p, q = p / p.sum(), q / q.sum()  # float32 rows sum to 1 only within ~1e-5
    cp = np.cumsum(np.sort(p)[::-1])
    cq = np.cumsum(np.sort(q)[::-1])
    return bool(np.all(cp >= cq - tol))


def _compare(
    source: str, items: list[str], less: np.ndarray, more: np.ndarray, step: str
) -> list[dict]:
    h_less, h_more = entropy_bits(less), entropy_bits(more)
    return [
        {
            "source": source,
            "item": item,
            "step": step,
            "entropy_less": a,
            "entropy_more": b,
            "delta_bits": b - a,
            "falls": b < a,
            "majorizes": majorizes(m, lrow),
        }
        for item, a, b, lrow, m in zip(items, h_less, h_more, less, more, strict=True)
    ]


def context_pairs(
    lm: LanguageModel, text: str, n: int = 60, lengths: Sequence[int] = (4, 16, 64), seed: int = 0
) -> list[dict]:
    """The row predicting the same next token from the last c tokens, for growing c."""
    ids, _ = lm.tokenize(text)
    top = max(lengths)
    if len(ids) <= top + n:
        raise BayesmatrixError(f"text has {len(ids)} tokens; need more than {top + n}")
    rng = np.random.default_rng(seed)
    ends = rng.choice(np.arange(top, len(ids)), size=n, replace=False)
    rows = {c: lm.next_rows([lm.with_bos(ids[e - c : e]) for e in ends]) for c in lengths}
    items = [f"position {e}" for e in ends]
    out = []
    for a, b in pairwise(lengths):
        out += _compare("context", items, rows[a], rows[b], f"{a}->{b} tokens")
    return out


def icl_pairs(
    lm: LanguageModel, task: Task, n: int = 40, ks: Sequence[int] = (0, 2, 8), seed: int = 0
) -> list[dict]:
    """The answer row for the same query after k in-context examples, for growing k."""
    from bayesmatrix.experiments.icl.sweep import render_task

    rng = np.random.default_rng(seed)
    rows: dict[int, list[str]] = {k: [] for k in ks}
    items = []
    for _ in range(n):
        order = rng.permutation(len(task.examples))[: max(ks) + 1]
        demos = [task.examples[i] for i in order]
        query = demos[-1]
        for k in ks:
            text, _, _ = render_task(task, [*demos[:k], query], task.label_words)
            rows[k].append(text[: text.rindex(task.label_words[query[1]])].rstrip())
        items.append(query[0])
    prompts = {k: lm.next_rows(v) for k, v in rows.items()}
    out = []
    for a, b in pairwise(ks):
        out += _compare(f"icl:{task.name}", items, prompts[a], prompts[b], f"{a}->{b} shots")
    return out


def retrieval_pairs(lm: LanguageModel, facts: Sequence[Fact]) -> list[dict]:
    """The answer row (predicting the answer's first non-whitespace token) of each question
    without and with its fact prepended."""
    from bayesmatrix.data.qa import qa_prompt

    def answer_rows(with_fact: bool) -> np.ndarray:
        prompts = [qa_prompt(f.question, f.context if with_fact else None) for f in facts]
        return lm.next_rows(
            [
                lm.first_content_token(q, " " + f.answer)[0]
                for q, f in zip(prompts, facts, strict=True)
            ]
        )

    return _compare(
        "retrieval",
        [f.question for f in facts],
        answer_rows(False),
        answer_rows(True),
        "no fact->fact",
    )


@dataclass
class EntropyResult(ModelFrame):
    """One row per comparison (less -> more specific prompt) with entropies and outcomes."""

    SCHEMA: ClassVar[Schema] = {
        "frame": {"source": "O", "delta_bits": "f", "falls": "b", "majorizes": "b"}
    }

    def summary(self) -> pd.DataFrame:
        rows = []
        for source, g in self.frame.groupby("source", sort=False):
            n = len(g)
            falls, majorizes_ = int(g["falls"].sum()), int(g["majorizes"].sum())
            mean, lo, hi = bootstrap_mean_ci(g["delta_bits"].to_numpy())
            rows.append(
                {
                    "model": self.model,
                    "source": source,
                    "n": n,
                    "falls": falls / n,
                    "falls_ci": wilson_interval(falls, n),
                    "majorizes": majorizes_ / n,
                    "majorizes_ci": wilson_interval(majorizes_, n),
                    "delta_bits": mean,
                    "delta_bits_ci": (lo, hi),
                }
            )
        return pd.DataFrame(rows)

    def verdicts(self) -> list[Verdict]:
        out = []
        for row in self.summary().itertuples(index=False):
            lo, hi = row.delta_bits_ci
            f_lo, f_hi = row.falls_ci
            m_lo, m_hi = row.majorizes_ci
            text = (
                f"{self.model}, {row.source} (n={row.n}): entropy change {row.delta_bits:+.3f} "
                f"[{lo:+.3f}, {hi:+.3f}] bits; entropy falls in {row.falls:.0%} "
                f"[{f_lo:.0%}, {f_hi:.0%}] of pairs; the more specific row majorizes in "
                f"{row.majorizes:.0%} [{m_lo:.0%}, {m_hi:.0%}]"
            )
            out.append(
                Verdict.from_rules(
                    "Theorem 3: more specific prompts give more concentrated rows",
                    text,
                    [FALLS.status(lo, hi), MOSTLY.status(f_lo, f_hi)],
                    subject=self.model,
                    **FALLS.record(row.delta_bits, lo, hi),
                )
            )
        return out


def run_entropy(
    lm: LanguageModel, text: str, task: Task, facts: Sequence[Fact], n: int = 60, seed: int = 0
) -> EntropyResult:
    """All three sources of specificity for one model."""
    rows = context_pairs(lm, text, n=n, seed=seed)
    rows += icl_pairs(lm, task, n=max(10, n // 2), seed=seed)
    rows += retrieval_pairs(lm, facts)
    return EntropyResult(lm.name, pd.DataFrame(rows))
