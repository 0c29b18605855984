"""The measured error rates of verdict rules, as shipped (data/calibration.json, written by
benchmarks/verdict_calibration.py through report.calibration): read by rule id, for the claim
version they were measured at only (a rule whose claim changed is not calibrated until it is
measured again)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

S, N = "supported", "not supported"


def rates_file() -> Path:
    """Where the measured rates ship."""
    return Path(str(files("bayesmatrix.data").joinpath("calibration.json")))


def rule_rates(rule: str, version: int, path: Path | None = None) -> list[dict[str, Any]]:
    """The shipped rates of one rule, measured at this claim version (one row per learner)."""
    src = path or rates_file()
    if not src.is_file():
        return []
    rows = json.loads(src.read_text(encoding="utf-8")).get("rates", [])
    return [r for r in rows if r["rule"] == rule and r.get("version") == version]


def rule_summary(rule: str, version: int, path: Path | None = None) -> str:
    """One line on a rule's measured error rates ('' when it was not calibrated at this
    claim version): size and abstention against Bayesian learners, power against forgetting
    ones, and whether each meets its target."""
    rows = rule_rates(rule, version, path)
    if not rows:
        return ""
    parts = []
    for r in rows:
        if r["right"] == S:
            parts.append(
                f"{r['learner']}: wrongly 'not supported' {r['not_supported']:.0%} "
                f"[{r['not_supported_lo']:.0%}, {r['not_supported_hi']:.0%}], abstains "
                f"{r['abstain']:.0%}"
            )
        elif r["right"] == N:
            parts.append(
                f"{r['learner']}: 'not supported' {r['not_supported']:.0%} "
                f"[{r['not_supported_lo']:.0%}, {r['not_supported_hi']:.0%}]"
            )
    missed = [r["learner"] for r in rows if r["meets"] == "no"]
    if missed:
        met = "MISSES its target on " + ", ".join(missed)
    elif all(r["meets"] in ("yes", "not scored") for r in rows):
        met = "meets every target"
    else:
        met = "cannot tell every target"
    first = rows[0]
    changed = "".join(f", {k}={v}" for k, v in sorted((first.get("overrides") or {}).items()))
    return (
        f"measured on learners by construction ({first['profile']} profile{changed}, "
        f"{first['n']} replicates each): " + "; ".join(parts) + f"; {met}"
    )


def rule_calibration(rule: str, version: int, path: Path | None = None) -> dict[str, Any]:
    """A rule's rates as a verdict record carries them: per learner the rates of each
    verdict, and whether the rule misses a target (empty when not calibrated)."""
    rows = rule_rates(rule, version, path)
    if not rows:
        return {}
    keep = ("right", "n", "supported", "not_supported", "not_supported_lo", "not_supported_hi",
            "abstain", "meets")  # fmt: skip
    return {
        "profile": rows[0]["profile"],
        "misses_a_target": any(r["meets"] == "no" for r in rows),
        "learners": {r["learner"]: {k: r[k] for k in keep} for r in rows},
    }
