"""How often the ICL-family verdict rules err, measured on learners by construction
(models.learners) read through the claims' own code: the size of a rule (how often it says
"not supported" of the exact Bayesian learner) and its power (how rarely it says
"supported" of a learner that is not Bayesian), each with a Wilson interval over
replicates. A replicate is the claim run at a profile's settings on fresh seeds.

Each rule's right answer per learner is stated in EXPECTED: a fixed-prior ignorer is a
martingale and exchangeable by construction (a Bayesian learner with an infinitely strong
prior), so "supported" is right for it there; all three learners have a fair coin prior.
Inconclusive is never counted as an error, and is reported as its own rate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

import pandas as pd

from bayesmatrix.bayes.stats import wilson_interval

LEARNERS = {
    "bayesian": "learner:bayesian",
    "recency": "learner:recency",
    "ignorer": "learner:ignorer",
}
CLAIMS = ("icl", "martingale", "martingale-paths", "icl-order", "coin-flips")
# labels flipped at random in 30% of demonstrations: evidence that varies, so a forgetting
# learner can be told from a Bayesian one (with every label agreeing, or every one flipped,
# a window over the last demonstrations predicts as a Bayesian learner with a strong prior)
MIXED = "flipped:0.3"
SIZE_TARGET = 0.05  # "not supported" of the Bayesian learner at most this often
POWER_TARGET = 0.20  # "supported" of a non-Bayesian learner at most this often

# (claim, a fragment of the verdict's claim text) -> right answer per learner
_S, _N = "supported", "not supported"
EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("icl", "consistent with Bayesian updating"): {"bayesian": _S, "recency": _N, "ignorer": _N},
    ("icl", "Bayesian scaling law"): {"bayesian": _S, "recency": _N, "ignorer": _N},
    ("martingale", "are martingales"): {"bayesian": _S, "recency": _N, "ignorer": _S},
    ("martingale-paths", "martingales along"): {"bayesian": _S, "recency": _N, "ignorer": _S},
    ("martingale-paths", "Bayesian rate"): {"bayesian": _S, "recency": _N, "ignorer": _N},
    ("icl-order", "exchangeable"): {"bayesian": _S, "recency": _N, "ignorer": _S},
    ("coin-flips", "prior for a coin is fair"): {"bayesian": _S, "recency": _S, "ignorer": _S},
    ("coin-flips", "more than a stated bias"): {"bayesian": _S, "recency": _S, "ignorer": _N},
    ("coin-flips", "like the Beta-Binomial posterior"): {
        "bayesian": _S,
        "recency": _N,
        "ignorer": _N,
    },
}


# conditions whose demonstrations all agree with the truth (or all disagree): the evidence a
# label-agreement learner sees is the same in every order, so any learner is exchangeable on
# them, and "supported" is the right answer of the order rule for the recency learner there
CONSTANT_EVIDENCE = ("regular", "flipped", "sul")


def right_answer(claim: str, rule: str, condition: str, learner: str) -> str:
    """The verdict a rule should give a learner (EXPECTED, with the exception above)."""
    if rule == "exchangeable" and condition in CONSTANT_EVIDENCE:
        return _S
    return EXPECTED[(claim, rule)][learner]


def rule_key(claim: str, verdict_claim: str) -> str | None:
    """The EXPECTED fragment a verdict of `claim` belongs to (None: not calibrated)."""
    return next((frag for (c, frag) in EXPECTED if c == claim and frag in verdict_claim), None)


def calibration_runs(
    claims: Sequence[str] = CLAIMS,
    profile: str = "quick",
    replicates: int = 10,
    out: str | Path = "runs/calibration",
    progress: Callable[[str], None] = lambda _: None,
    extra_conditions: Sequence[str] = (MIXED,),
) -> pd.DataFrame:
    """Every verdict of every claim on every learner, per replicate: one row each (claim,
    rule, ICL condition, learner, replicate, status, the verdict's own claim text).
    Replicate r runs the claim's `profile` (its full one when it has no such profile) on
    seeds starting at r * seeds, the ICL claims with `extra_conditions` added to theirs;
    results are saved under `out` and reused, so a killed study resumes."""
    from bayesmatrix.claims import get_claim
    from bayesmatrix.claims.claim import verdicts_of
    from bayesmatrix.claims.registry import run_claim
    from bayesmatrix.models.loading import Loader

    load = Loader()
    rows = []
    for name in claims:
        claim = get_claim(name)
        base = claim.configure(profile if profile in claim.profiles else "full")
        if "conditions" in base:
            base["conditions"] = list(dict.fromkeys([*base["conditions"], *extra_conditions]))
        for r in range(replicates):
            settings = {**base, "first_seed": r * base["seeds"]}
            for kind, ref in LEARNERS.items():
                progress(f"{name} replicate {r + 1}/{replicates} on the {kind} learner")
                where = Path(out) / name / kind / f"r{r}"
                for v in verdicts_of(run_claim(claim, [ref], settings, where, load)):
                    key = rule_key(name, v.statement)
                    if key is not None:
                        found = (
                            re.search(r"\(([\w.:-]+)\)", v.statement)
                            if "conditions" in base
                            else None
                        )
                        rows.append(
                            {"claim": name, "rule": key,
                             "condition": found.group(1) if found else "",
                             "learner": kind, "replicate": r, "status": v.status,
                             "verdict": v.statement}
                        )  # fmt: skip
    return pd.DataFrame(rows)


def error_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (claim, rule, condition, learner): the right answer, the verdicts counted, the
    rate of the wrong verdict with its 95% Wilson interval, the rate of inconclusive, and
    whether the rate meets its target (size for the Bayesian learner, power for the others). A rule
    meets a target when the interval's upper end is within it; it misses when the rate
    itself is above it; otherwise the replicates cannot tell."""
    rows = []
    keys = ["claim", "rule", "condition", "learner"]
    for (claim, rule, condition, learner), g in runs.groupby(keys, sort=False):
        right = right_answer(claim, rule, condition, learner)
        wrong = _N if right == _S else _S
        n = len(g)
        errors = int((g["status"] == wrong).sum())
        lo, hi = wilson_interval(errors, n)
        target = SIZE_TARGET if learner == "bayesian" else POWER_TARGET
        if right == _S and learner != "bayesian":
            target = SIZE_TARGET  # the learner satisfies the claim: a false "not supported"
        rate = errors / n if n else float("nan")
        rows.append(
            {"claim": claim, "rule": rule, "condition": condition, "learner": learner,
             "right": right, "n": n,
             "wrong_rate": rate, "wrong_lo": lo, "wrong_hi": hi,
             "inconclusive_rate": float((g["status"] == "inconclusive").mean()),
             "target": target,
             "meets": "yes" if hi <= target else "no" if rate > target else "cannot tell"}
        )  # fmt: skip
    return pd.DataFrame(rows)


def markdown_table(rates: pd.DataFrame) -> str:
    """The error rates as the docs' table."""
    lines = [
        "| claim | rule | condition | learner | right answer | n | wrong verdicts [95% CI] | "
        "inconclusive | target | meets |",
        "|---|---|---|---|---|---:|---|---:|---:|---|",
    ]
    for r in rates.itertuples(index=False):
        lines.append(
            f"| {r.claim} | {r.rule} | {r.condition or '-'} | {r.learner} | {r.right} | {r.n} | "
            f"{r.wrong_rate:.0%} "
            f"[{r.wrong_lo:.0%}, {r.wrong_hi:.0%}] | {r.inconclusive_rate:.0%} | "
            f"<= {r.target:.0%} | {r.meets} |"
        )
    return "\n".join(lines)


def rates_file() -> Path:
    """Where the measured rates ship (benchmarks/verdict_calibration.py --save writes it)."""
    return Path(str(files("bayesmatrix.data").joinpath("calibration.json")))


def save_rates(
    rates: pd.DataFrame, profile: str, replicates: int, path: Path, merge: bool = True
) -> Path:
    """The rates, each row with the profile and replicates it was measured at, as JSON the
    report reads; with `merge`, rows of other claims already in the file are kept (cheap
    claims can be measured with more replicates than expensive ones)."""
    from bayesmatrix.results.io import write_text

    rows = rates.assign(profile=profile, replicates=replicates).to_dict("records")
    if merge and path.is_file():
        mine = {r["claim"] for r in rows}
        kept = json.loads(path.read_text(encoding="utf-8"))["rates"]
        rows = [r for r in kept if r["claim"] not in mine] + rows
    return write_text(path, json.dumps({"rates": rows}, indent=1, default=float) + "\n")


def rule_summary(claim: str, path: Path | None = None) -> str:
    """One line per calibrated rule of a claim: how often it gave each learner the wrong
    verdict in the shipped calibration run ('' when the claim was not calibrated)."""
    src = path or rates_file()
    if not src.is_file():
        return ""
    body = json.loads(src.read_text(encoding="utf-8"))
    rows = [r for r in body["rates"] if r["claim"] == claim]
    lines = []
    for rule in dict.fromkeys(r["rule"] for r in rows):
        parts = []
        for learner in LEARNERS:
            mine = [r for r in rows if r["rule"] == rule and r["learner"] == learner]
            if not mine:
                continue
            wrong = sum(round(r["wrong_rate"] * r["n"]) for r in mine)
            n = sum(r["n"] for r in mine)
            lo, hi = wilson_interval(wrong, n)
            answer = "not supported" if mine[0]["right"] == _S else "supported"
            parts.append(f"{learner} learner wrongly '{answer}' {wrong}/{n} [{lo:.0%}, {hi:.0%}]")
        first = next(r for r in rows if r["rule"] == rule)
        lines.append(
            f"'{rule}' ({first['profile']} profile, {first['replicates']} replicates): "
            + "; ".join(parts)
        )
    return (
        "Measured on learners by construction (every condition pooled; "
        "docs/guides/verdict-calibration.md): " + " | ".join(lines)
        if lines
        else ""
    )
