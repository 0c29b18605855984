"""Verdicts: a claim, whether the numbers support it, and the numbers behind it.

Every verdict in the toolkit comes from a `Rule` (one quantity's 95% interval against its
threshold, written once: the rule judges with it and states it in the sentence a report
shows) and `Verdict.from_rules` (several rules, combined the same way everywhere):
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
from typing import Any, Literal

Status = Literal["supported", "not supported", "inconclusive"]
NO_INTERVAL = (
    "no interval could be computed (it needs at least 2 independent observations and at "
    "least 1 bootstrap resample), so no verdict"
)


@dataclass(frozen=True)
class Verdict:
    """What is judged (the statement), whether the numbers support it, and the numbers behind
    it: in words (evidence), and as data: the rule that judged (its id), the model(s) it is
    about, the key quantity's estimate and 95% interval, the threshold and the side of it
    the statement claims, and, for a test, its p-value and level. A claim run adds the rest
    of the record (claim, settings, versions: results.records)."""

    statement: str
    status: Status
    evidence: str
    rule: str = ""
    subject: str = ""
    quantity: str = ""
    estimate: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")
    threshold: float = float("nan")
    direction: str = ""  # above, below, within: the side of the threshold claimed
    p_value: float = float("nan")
    alpha: float = float("nan")

    def __str__(self) -> str:
        return f"[{self.status}] {self.statement}: {self.evidence}"

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<p><b>[{escape(self.status)}]</b> {escape(self.statement)}: "
            f"{escape(self.evidence)}</p>"
        )

    @classmethod
    def from_rules(
        cls,
        statement: str,
        evidence: str,
        statuses: Sequence[Status | None],
        why: str = "",
        **record: Any,
    ) -> Verdict:
        """Combine rule outcomes (None = not computable); `why` is appended to the evidence
        when the verdict is not "supported" and a reason is known; `record`: the data fields
        (rule, subject, estimate, lo, hi, ...)."""
        if any(s is None for s in statuses):
            return cls(statement, "inconclusive", f"{evidence} ({NO_INTERVAL})", **record)
        if "not supported" in statuses:
            status: Status = "not supported"
        elif all(s == "supported" for s in statuses):
            status = "supported"
        else:
            status = "inconclusive"
        note = f" ({why})" if why and status != "supported" else ""
        return cls(statement, status, evidence + note, **record)


@dataclass(frozen=True)
class Rule:
    """ "The quantity lies above (or below) a threshold", or "within +-`within` of a centre",
    judged from its interval. `refute_at` moves the refutation threshold (a dead zone between
    it and the threshold); `unit` follows the numbers in the sentence. A rule whose threshold
    scales with the data (a tolerance relative to the mean update size) is judged with
    `scale`; one whose centre is computed (a reference learner's exponent) with `centre`."""

    quantity: str
    above: float | None = None
    below: float | None = None
    within: float | None = None
    refute_at: float | None = None
    unit: str = ""
    centre: str = "0"  # what `within` is measured from, in words
    interval: bool = True  # False: judged on one number (lo = hi), said so in the sentence
    id: str = ""  # claim-qualified (e.g. 'icl.law'): what records and calibration key on

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.above, self.below, self.within)) != 1:
            raise ValueError("give exactly one of above=, below= or within=")

    @property
    def threshold(self) -> float:
        """The threshold the claimed side starts at (the half-width for `within`)."""
        return next(x for x in (self.above, self.below, self.within) if x is not None)

    @property
    def direction(self) -> str:
        """The side of the threshold the claim is on: above, below or within."""
        return (
            "above" if self.above is not None else "below" if self.below is not None else "within"
        )

    def record(
        self, estimate: float, lo: float, hi: float, scale: float = 1.0, **more: Any
    ) -> dict[str, Any]:
        """The data fields of a verdict this rule judges (Verdict(..., **rule.record(...)))."""
        return {
            "rule": self.id,
            "quantity": self.quantity,
            "estimate": float(estimate),
            "lo": float(lo),
            "hi": float(hi),
            "threshold": float(self.threshold * scale),
            "direction": self.direction,
            **more,
        }

    def status(
        self, lo: float, hi: float, scale: float = 1.0, centre: float = 0.0
    ) -> Status | None:
        """The status of an interval [lo, hi] (None when it could not be computed)."""
        refute = None if self.refute_at is None else self.refute_at * scale
        if self.within is not None:
            if not (math.isfinite(lo) and math.isfinite(hi)):
                return None
            half = self.within * scale
            if centre - half < lo and hi < centre + half:
                return "supported"
            outside = hi < centre - half or lo > centre + half
            return "not supported" if outside else "inconclusive"
        if self.above is not None:
            return rule(lo, hi, above=self.above * scale, refute_at=refute)
        if self.below is None:  # a Rule is built with exactly one of above, below, within
            raise ValueError(f"rule {self.id or self.quantity!r} has no threshold")
        return rule(lo, hi, below=self.below * scale, refute_at=refute)

    def sentence(self) -> str:
        """The rule in words, with its thresholds."""
        u = self.unit
        what = f"the 95% interval of {self.quantity}" if self.interval else self.quantity
        if self.within is not None:
            return (
                f"supported when {what} lies within +-{self.within:g}{u} of {self.centre}, "
                "not supported when wholly outside"
            )
        side, other = ("above", "below") if self.above is not None else ("below", "above")
        refute = self.threshold if self.refute_at is None else self.refute_at
        return (
            f"supported when {what} lies {side} {self.threshold:g}{u}, not supported when it "
            f"lies {other} {refute:g}{u}"
        )


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
    assert below is not None  # exactly one of the two was given
    refute = below if refute_at is None else refute_at
    return "supported" if hi < below else "not supported" if lo > refute else "inconclusive"


def bounded(value: float, spec: str = ".3f", bound: float | None = None) -> str:
    """A number as evidence shows it alone: '> 10^4' at or past `bound` (a fit at its
    limit), else formatted with `spec`."""
    if bound is not None and math.isfinite(value) and value >= bound:
        power = math.log10(bound)
        return f"> 10^{power:.0f}" if power == round(power) else f"> {bound:g}"
    return format(value, spec)


def estimate(
    value: float, lo: float, hi: float, spec: str = ".3f", bound: float | None = None
) -> str:
    """A number with its interval, as evidence shows it: 'v [lo, hi]'. A value at or past
    `bound` (a fit at its limit) is shown as '> bound', not as the optimiser's number; a
    missing interval is said so ('no interval'), not printed as [nan, nan]; an estimate
    outside its own percentile interval (a bootstrap of a non-smooth estimator on few
    observations) is flagged."""

    def show(x: float) -> str:
        return bounded(x, spec, bound)

    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{show(value)} (no interval)"
    text = f"{show(value)} [{show(lo)}, {show(hi)}]"
    at_bound = bound is not None and value >= bound
    slack = 1e-9 * max(1.0, abs(value)) if math.isfinite(value) else 0.0  # rounding only
    if not at_bound and math.isfinite(value) and not lo - slack <= value <= hi + slack:
        text += " (outside its bootstrap interval: the estimator is not smooth here)"
    return text
