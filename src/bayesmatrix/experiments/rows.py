"""Instrumented rows are the model's rows: a traced prompt's rows against separate forward
passes, one per prefix (the self-check every other claim rests on)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.models.trace import Trace
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

TOLERANCE = 1e-4  # max |traced row - separate pass| allowed, in probability
MATCHES = Rule(
    "the largest |traced row - separate pass| (a number, not an interval)",
    below=TOLERANCE,
    id="rows.matches",
)


@dataclass
class RowsCheck(FrameResult):
    """frame: one row per position with the max |difference| between the traced row and a
    separate forward pass of that prefix, and |row sum - 1|; trace: the traced prompt (its
    full rows dropped) for the figure."""

    SCHEMA: ClassVar[Schema] = {"frame": {"position": "i", "max_abs_diff": "f", "sum_error": "f"}}

    model: str
    vocab_size: int
    frame: pd.DataFrame
    trace: Trace = field(metadata={"saved": False})

    def verdicts(self) -> list[Verdict]:
        err = float(self.frame["max_abs_diff"].max())
        sums = float(self.frame["sum_error"].max())
        return [
            Verdict.from_rules(
                f"{self.model}: traced rows equal separate forward passes per prefix",
                f"max |difference| {err:.1e} over {len(self.frame)} rows of {self.vocab_size} "
                f"tokens; rows sum to 1 within {sums:.1e}",
                [MATCHES.status(err, err)],
                subject=self.model,
                **MATCHES.record(err, err, err),
            )
        ]

    def save(self, directory: str | Path) -> Path:
        out = super().save(directory)
        self.trace.save(out / "trace")
        return out

    @classmethod
    def _load_extra(cls, src: Path) -> dict:
        return {"trace": Trace.load(src / "trace")}


def check_rows(lm: LanguageModel, prompt: str) -> RowsCheck:
    """Trace the prompt with full rows and compare each with a separate pass of its prefix."""
    trace = lm.trace(prompt, top_k=5, rows="float32")
    ids = trace.token_ids.tolist()
    ref = lm.next_rows([ids[: i + 1] for i in range(len(ids))])
    rows = trace.rows
    assert rows is not None  # the trace was asked for its rows
    frame = pd.DataFrame(
        {
            "position": np.arange(len(ids)),
            "max_abs_diff": np.abs(ref - rows).max(axis=1),
            "sum_error": np.abs(rows.sum(axis=1) - 1),
        }
    )
    return RowsCheck(lm.name, lm.vocab_size, frame, replace(trace, rows=None))
