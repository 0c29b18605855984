"""Verdicts: a claim, whether the numbers support it, and the numbers behind it.

Every verdict in the toolkit comes from `rule` (one 95% interval against stated thresholds)
and `Verdict.from_rules` (several rules, combined the same way everywhere):
- a rule is *supported* when the whole interval lies on the claimed side of its threshold,
  *not supported* when it lies wholly on the other side of its refutation threshold (the same
  threshold unless a dead zone is stated), and *inconclusive* otherwise;
- an interval that could not be computed (NaN: fewer than 2 observations, no bootstrap
  resamples) gives no status, and the verdict is inconclusive, saying why;
- combined: not supported if any rule is, supported only if every rule is, else
  inconclusive. The outcome never depends on the order of the rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["supported", "not supported", "inconclusive"]
NO_INTERVAL = (
    "no interval could be computed (it needs at least 2 independent observations and at "
    "least 1 bootstrap resample), so no verdict"
)


@dataclass(frozen=True)
class Verdict:
    """A claim, whether the numbers support it, and the numbers (with intervals) behind it."""

    claim: str
    status: Status
    evidence: str

    def __str__(self) -> str:
        return f"[{self.status}] {self.claim}: {self.evidence}"

    @classmethod
    def from_rules(
        cls, claim: str, evidence: str, statuses: Sequence[Status | None], why: str = ""
    ) -> Verdict:
        """Combine rule outcomes (None = not computable); `why` is appended to the evidence
        when the verdict is not "supported" and a reason is known."""
        if any(s is None for s in statuses):
            return cls(claim, "inconclusive", f"{evidence} ({NO_INTERVAL})")
        if "not supported" in statuses:
            status: Status = "not supported"
        elif all(s == "supported" for s in statuses):
            status = "supported"
        else:
            status = "inconclusive"
        note = f" ({why})" if why and status != "supported" else ""
        return cls(claim, status, evidence + note)


def rule(
    lo: float,
    hi: float,
    *,
    above: float | None = None,
    below: float | None = None,
    refute_at: float | None = None,
) -> Status | None:
    """The claim "the quantity is above `above`" (or "below `below`") judged from its interval
    [lo, hi]; `refute_at` moves the refutation threshold (a dead zone between the two)."""
    if (above is None) == (below is None):
        raise ValueError("give exactly one of above= or below=")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if above is not None:
        refute = above if refute_at is None else refute_at
        return "supported" if lo > above else "not supported" if hi < refute else "inconclusive"
    refute = below if refute_at is None else refute_at  # type: ignore[assignment]
    return "supported" if hi < below else "not supported" if lo > refute else "inconclusive"
