"""A martingale-style consistency check of in-context learning (after Falck et al. 2024).

For a Bayesian learner, today's predictive for a held-out query equals the expectation of
tomorrow's predictive under its own predictive for the next demonstration:

    a_k = P(y* = true | D_k, x*)
        must equal  sum_l P(y_k = l | D_k, x_k) * P(y* = true | D_k, (x_k, l), x*)

Every term is read from the LM itself; the gap a_k - E[a_{k+1}] is zero for any exchangeable
Bayesian model. Its size is reported next to the size of the updates it averages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.sweep import Condition, read_task_many
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.tasks import Task
    from bayesmatrix.models import LanguageModel

CLAIM = "ICL predictives of {model} on {task} are martingales (a_k = E[a_k+1])"
RELATIVE_TOLERANCE = 0.25  # |gap| at most a quarter of the typical update size
MARTINGALE = Rule(
    "the mean |gap|",
    below=RELATIVE_TOLERANCE,
    unit=" of the mean update size",
    id="martingale.gap",
)


def martingale_gaps(
    lm: LanguageModel,
    task: Task,
    condition: Condition,
    seed: int,
    ks: tuple[int, ...] = (0, 1, 2, 4, 8, 16),
) -> pd.DataFrame:
    """Per k: a_k, the expected next predictive, their gap and the mean update size."""
    if not ks or min(ks) < 0:
        raise BayesmatrixError("ks must be non-negative demonstration counts")
    n = max(ks) + 2
    if n > len(task.examples):
        raise BayesmatrixError(f"{task.name} has too few examples for k up to {max(ks)}")
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(task.examples))[:n]
    inputs = [task.examples[i][0] for i in order]
    true = [task.examples[i][1] for i in order]
    shown = condition.shown_labels(task, true[:-1], rng)
    words = condition.label_words(task)
    query, query_true = inputs[-1], true[-1]
    labels = task.labels
    contexts = []  # per k: the query now, then after each possible label of demo k
    for k in ks:
        context = list(zip(inputs[:k], shown[:k], strict=True))
        contexts.append([*context, (query, query_true)])
        contexts += [[*context, (inputs[k], label), (query, query_true)] for label in labels]
    frames = iter(read_task_many(lm, task, contexts, words))
    rows = []
    for k in ks:
        now = next(frames)
        a = float(now.loc[k, f"p_{query_true}"])
        w, b = np.empty(len(labels)), np.empty(len(labels))
        for j, label in enumerate(labels):
            nxt = next(frames)
            w[j] = nxt.loc[k, f"p_{label}"]
            b[j] = nxt.loc[k + 1, f"p_{query_true}"]
        expected = float(w @ b)
        rows.append(
            {
                "model": lm.name,
                "task": task.name,
                "condition": condition.tag,
                "seed": seed,
                "k": k,
                "a_k": a,
                "expected_next": expected,
                "gap": a - expected,
                "update_size": float(w @ np.abs(b - a)),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class MartingaleResult(FrameResult):
    """The martingale check's gaps: one row per (model, task, condition, seed, k)."""

    SCHEMA: ClassVar[Schema] = {
        "gaps": {
            "model": "O", "task": "O", "condition": "O", "seed": "i", "k": "i", "a_k": "f",
            "expected_next": "f", "gap": "f", "update_size": "f",
        }
    }  # fmt: skip

    gaps: pd.DataFrame

    @property
    def frame(self) -> pd.DataFrame:
        return self.gaps

    def verdicts(self) -> list[Verdict]:
        return martingale_verdicts(self.gaps)


def martingale_verdicts(gaps: pd.DataFrame) -> list[Verdict]:
    """One verdict per (model, task) of a frame of martingale_gaps rows."""
    return [martingale_verdict(g) for _, g in gaps.groupby(["model", "task"], sort=False)]


def martingale_verdict(gaps: pd.DataFrame) -> Verdict:
    """Supported when the mean |gap| (95% bootstrap upper bound) is under a quarter of the
    mean update size it averages over; not supported when its lower bound is over it.
    The gaps should come from one model and task."""
    claim = CLAIM.format(
        model="/".join(gaps["model"].unique()) if "model" in gaps else "the LM",
        task="/".join(gaps["task"].unique()) if "task" in gaps else "the task",
    )
    abs_gap, lo, hi = bootstrap_mean_ci(gaps["gap"].abs().to_numpy())
    signed, s_lo, s_hi = bootstrap_mean_ci(gaps["gap"].to_numpy())
    scale = float(gaps["update_size"].mean())
    limit = RELATIVE_TOLERANCE * scale
    text = (
        f"mean |a_k - E[a_k+1]| = {abs_gap:.4f} [{lo:.4f}, {hi:.4f}] against a mean update "
        f"of {scale:.4f} (tolerance {limit:.4f}); signed gap {signed:+.4f} "
        f"[{s_lo:+.4f}, {s_hi:+.4f}] over {len(gaps)} (seed, k) pairs"
    )
    subject = "/".join(gaps["model"].unique()) if "model" in gaps else ""
    return Verdict.from_rules(
        claim, text, [MARTINGALE.status(lo, hi, scale=scale)], subject=subject,
        **MARTINGALE.record(abs_gap, lo, hi, scale=scale),
    )  # fmt: skip
