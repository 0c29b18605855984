"""Chain of thought as moving into low-entropy rows: the answer row with and without the
intermediate steps in the prompt, on multi-step problems with known answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.data.qa import Problem, cot_prompt
from bayesmatrix.experiments.entropy import entropy_bits
from bayesmatrix.results.frame import ModelFrame, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

ENTROPY_FALLS = Rule(
    "the answer-row entropy change with the steps", below=0, unit=" bits", id="cot.entropy"
)
ANSWER_RISES = Rule(
    "the change in log P(answer) with the steps", above=0, unit=" nats", id="cot.answer"
)


@dataclass
class CotResult(ModelFrame):
    """One row per (problem, with_steps): answer-row entropy, P(answer), argmax correctness."""

    SCHEMA: ClassVar[Schema] = {
        "frame": {
            "question": "O", "answer": "O", "with_steps": "b", "entropy_bits": "f",
            "logprob_answer": "f", "correct": "b",
        }
    }  # fmt: skip

    def paired(self) -> pd.DataFrame:
        wide = self.frame.pivot(index="question", columns="with_steps")
        return pd.DataFrame(
            {
                "delta_entropy_bits": wide["entropy_bits"][True] - wide["entropy_bits"][False],
                "delta_logprob": wide["logprob_answer"][True] - wide["logprob_answer"][False],
            }
        )

    def verdicts(self) -> list[Verdict]:
        d = self.paired()
        h, h_lo, h_hi = bootstrap_mean_ci(d["delta_entropy_bits"].to_numpy())
        lp, lp_lo, lp_hi = bootstrap_mean_ci(d["delta_logprob"].to_numpy())
        acc = self.frame.groupby("with_steps")["correct"].mean()
        text = (
            f"{self.model}, {len(d)} problems: answer-row entropy changes by {h:+.3f} "
            f"[{h_lo:+.3f}, {h_hi:+.3f}] bits with the steps; log P(answer) by {lp:+.3f} "
            f"[{lp_lo:+.3f}, {lp_hi:+.3f}] nats; argmax correct {acc.get(False, 0):.0%} "
            f"without -> {acc.get(True, 0):.0%} with steps"
        )
        return [
            Verdict.from_rules(
                "Chain of thought moves the model into low-entropy rows that favour "
                "the right answer",
                text,
                [ENTROPY_FALLS.status(h_lo, h_hi), ANSWER_RISES.status(lp_lo, lp_hi)],
                subject=self.model,
                **ENTROPY_FALLS.record(h, h_lo, h_hi),
            )
        ]


def run_cot(lm: LanguageModel, problems: Sequence[Problem]) -> CotResult:
    """Answer rows and answer probabilities with and without the intermediate steps."""
    rows = []
    for with_steps in (False, True):
        prompts = [cot_prompt(p, with_steps) for p in problems]
        anchors = [
            lm.first_content_token(q, " " + p.answer)
            for q, p in zip(prompts, problems, strict=True)
        ]
        answer_rows = lm.next_rows([prefix for prefix, _ in anchors])
        first = [token for _, token in anchors]
        logp = lm.score_many([(q, " " + p.answer) for q, p in zip(prompts, problems, strict=True)])
        for i, p in enumerate(problems):
            rows.append(
                {
                    "question": p.question,
                    "answer": p.answer,
                    "with_steps": with_steps,
                    "entropy_bits": float(entropy_bits(answer_rows[i])),
                    "logprob_answer": float(logp[i]),
                    "p_first_answer_token": float(answer_rows[i, first[i]]),
                    "correct": bool(np.argmax(answer_rows[i]) == first[i]),
                }
            )
    return CotResult(lm.name, pd.DataFrame(rows))
