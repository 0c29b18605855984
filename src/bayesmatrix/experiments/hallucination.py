"""Hallucinations come from diffuse rows: does the answer row's entropy (or top-1 probability)
tell right answers from wrong ones? AUROC on factual questions, with and without the
retrieved fact prepended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.entropy import entropy_bits
from bayesmatrix.experiments.questions import Fact, qa_prompt
from bayesmatrix.experiments.result import ModelFrame
from bayesmatrix.experiments.verdicts import Verdict, rule

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of scores for binary labels (Mann-Whitney U, ties count 1/2)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise BayesmatrixError("AUROC needs both right and wrong answers")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc_ci(
    scores: np.ndarray, labels: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """AUROC with a percentile bootstrap interval (resamples keeping both classes)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(len(s), size=len(s))
        if y[idx].all() or not y[idx].any():
            continue
        values.append(auroc(s[idx], y[idx]))
    return auroc(s, y), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


@dataclass
class HallucinationResult(ModelFrame):
    """One row per (question, with_context): the answer row's entropy and top-1 probability,
    and whether its argmax is the right answer's first non-whitespace token."""

    def summary(self) -> pd.DataFrame:
        rows = []
        for with_context, g in self.frame.groupby("with_context"):
            row = {
                "model": self.model,
                "with_context": with_context,
                "n": len(g),
                "accuracy": float(g["correct"].mean()),
            }
            for signal, sign in (("entropy_bits", -1), ("top1_prob", 1)):
                try:
                    a, lo, hi = auroc_ci(sign * g[signal].to_numpy(), g["correct"].to_numpy())
                except BayesmatrixError:
                    a = lo = hi = float("nan")
                row[f"auroc_{signal}"], row[f"auroc_{signal}_ci"] = a, (lo, hi)
            rows.append(row)
        return pd.DataFrame(rows)

    def verdicts(self) -> list[Verdict]:
        out = []
        for row in self.summary().itertuples(index=False):
            a, (lo, hi) = row.auroc_entropy_bits, row.auroc_entropy_bits_ci
            t, (t_lo, t_hi) = row.auroc_top1_prob, row.auroc_top1_prob_ci
            where = "with the retrieved fact" if row.with_context else "without context"
            text = (
                f"{self.model}, {where} (n={row.n}, accuracy {row.accuracy:.0%}): AUROC of "
                f"low entropy for a right answer {a:.3f} [{lo:.3f}, {hi:.3f}]; of top-1 "
                f"probability {t:.3f} [{t_lo:.3f}, {t_hi:.3f}]"
            )
            claim = "Diffuse (high-entropy) answer rows signal wrong answers"
            if np.isnan(a):
                out.append(Verdict(claim, "inconclusive", text + " (all answers right or wrong)"))
            else:
                out.append(Verdict.from_rules(claim, text, [rule(lo, hi, above=0.5)]))
        return out


def run_hallucination(lm: LanguageModel, facts: Sequence[Fact]) -> HallucinationResult:
    """Answer rows with and without the supporting fact; correctness = the row's argmax is
    the answer's first non-whitespace token (a documented proxy for a right greedy answer)."""
    rows = []
    for with_context in (False, True):
        prompts = [qa_prompt(f.question, f.context if with_context else None) for f in facts]
        anchors = [
            lm.first_content_token(q, " " + f.answer) for q, f in zip(prompts, facts, strict=True)
        ]
        answer_rows = lm.next_rows([prefix for prefix, _ in anchors])
        first = [token for _, token in anchors]
        for i, f in enumerate(facts):
            rows.append(
                {
                    "question": f.question,
                    "answer": f.answer,
                    "with_context": with_context,
                    "entropy_bits": float(entropy_bits(answer_rows[i])),
                    "top1_prob": float(answer_rows[i].max()),
                    "p_answer_first_token": float(answer_rows[i, first[i]]),
                    "correct": bool(np.argmax(answer_rows[i]) == first[i]),
                }
            )
    return HallucinationResult(lm.name, pd.DataFrame(rows))
