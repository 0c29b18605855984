"""Hallucinations come from diffuse rows: does the answer row's entropy (or top-1 probability)
tell right answers from wrong ones? AUROC on factual questions, with and without the
retrieved fact prepended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.stats import auroc_ci
from bayesmatrix.data.qa import Fact, qa_prompt
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.entropy import entropy_bits
from bayesmatrix.results.frame import ModelFrame, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

SIGNALS_WRONG = Rule(
    "the AUROC of low answer-row entropy for a right answer", above=0.5, id="hallucination.auroc"
)


@dataclass
class HallucinationResult(ModelFrame):
    """One row per (question, with_context): the answer row's entropy and top-1 probability,
    and whether its argmax is the right answer's first non-whitespace token."""

    SCHEMA: ClassVar[Schema] = {
        "frame": {
            "question": "O", "answer": "O", "with_context": "b", "entropy_bits": "f",
            "top1_prob": "f", "correct": "b",
        }
    }  # fmt: skip

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
                out.append(
                    Verdict(claim, "inconclusive", text + " (all answers right or wrong)",
                            subject=self.model, **SIGNALS_WRONG.record(a, lo, hi))
                )  # fmt: skip
            else:
                out.append(
                    Verdict.from_rules(claim, text, [SIGNALS_WRONG.status(lo, hi)],
                                       subject=self.model, **SIGNALS_WRONG.record(a, lo, hi))
                )  # fmt: skip
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
