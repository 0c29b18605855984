"""How often each verdict rule errs, measured on learners by construction (models.learners)
read through the claims' own prompts and code: per rule and learner, the rate of each verdict
over independent replicates, against the right answer the claim declares (Claim.calibration,
keyed by rule). A replicate is the claim run at a profile's settings on fresh demonstration
seeds and fresh read noise.

The learners (LEARNERS) are noisy, as real models' readings are: Gaussian noise on the logit
of every reading, per-input priors spread about their mean (the scale of both measured on the
embedded models: docs/guides/verdict-calibration.md). The nulls are Bayesian but misspecified
for the fits (a noisy zero-shot reading stands in for the prior; another prior strength than
any default); the alternatives forget at two windows and a decay rate.

Targets, per rule: against a learner whose right answer is "supported", the rate of "not
supported" (size) at most SIZE (shown by the Wilson upper bound) and of "inconclusive" at most
ABSTAIN; against one whose right answer is "not supported", the rate of "not supported"
(power) at least POWER (shown by the Wilson lower bound). A learner whose right answer is not
stated (None) is reported, not scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from bayesmatrix.bayes.stats import wilson_interval

SIZE = 0.05
POWER = 0.80
ABSTAIN = 0.20
# the read noise and per-input prior spread of the learners: SmolLM2-135M's on the icl design
# (residual SD 1.35 logits about its fitted Beta-Bernoulli curve; zero-shot P(true label) with
# logit mean 1.49, SD 1.33: docs/guides/verdict-calibration.md)
READS = "noise=1.3&prior_spread=1.3"
LEARNERS: dict[str, str] = {
    "bayesian-exact": "learner:bayesian?kappa=2&prior=0.75&prior_spread=1.3",
    "bayesian": f"learner:bayesian?kappa=2&prior=0.75&{READS}",
    "bayesian-strong": f"learner:bayesian?kappa=8&prior=0.6&{READS}",
    "window-4": f"learner:recency?window=4&kappa=2&prior=0.75&{READS}",
    "window-8": f"learner:recency?window=8&kappa=2&prior=0.75&{READS}",
    "decay-0.8": f"learner:discount?decay=0.8&kappa=2&prior=0.75&{READS}",
    "ignorer": f"learner:ignorer?prior=0.75&{READS}",
}
S, N = "supported", "not supported"


def reference(learner: str, replicate: int) -> str:
    """The learner's reference with the replicate's noise seed."""
    return f"{LEARNERS[learner]}&seed={replicate}"


def calibrated_claims() -> list[Any]:
    """The claims that declare right answers for learners (Claim.calibration)."""
    from bayesmatrix.claims import list_claims

    return [c for c in list_claims() if c.calibration]


def one_replicate(
    claim_name: str,
    learner: str,
    replicate: int,
    profile: str,
    out: str,
    overrides: Mapping[str, Any] | None = None,
) -> list:
    """The verdicts of one claim on one learner in one replicate: (rule, statement, status)
    of every verdict whose rule the claim calibrates. `overrides` change the profile's
    settings (a setting the measured rules do not read, to save time: the caller says why).
    Results are saved under `out` and reused, so a killed study resumes."""
    from bayesmatrix.claims import get_claim, run_claim, verdicts_of
    from bayesmatrix.models.loading import Loader

    claim = get_claim(claim_name)
    base = claim.configure(profile if profile in claim.profiles else "full", **(overrides or {}))
    seeds = base.get("seeds", 1)
    settings = {**base, "first_seed": replicate * seeds} if "first_seed" in base else base
    where = Path(out) / claim_name / learner / f"r{replicate}"
    if overrides:
        where = Path(out) / _tag(overrides) / claim_name / learner / f"r{replicate}"
    results = run_claim(claim, [reference(learner, replicate)], settings, where, Loader())
    rules = {rule.id for rule in claim.calibration}
    return [(v.rule, v.statement, v.status) for v in verdicts_of(results) if v.rule in rules]


def _tag(overrides: Mapping[str, Any]) -> str:
    """A folder name for a study's setting overrides (runs at other settings are kept apart)."""
    return "_".join(f"{k}-{v}" for k, v in sorted(overrides.items()))


def calibration_runs(
    claims: Sequence[str] | None = None,
    profile: str = "quick",
    replicates: int = 10,
    out: str | Path = "runs/calibration",
    progress: Callable[[str], None] = lambda _: None,
    learners: Iterable[str] = tuple(LEARNERS),
    workers: int = 1,
    first: int = 0,
    overrides: Mapping[str, Any] | None = None,
    rules: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every calibrated verdict of the claims on the learners over replicates first ..
    first + replicates - 1: one row each (claim, rule, learner, replicate, status,
    statement); only the `rules` given (ids), when given. `workers` processes run replicates
    side by side; `overrides` change the profile's settings (one_replicate)."""
    names = list(claims) if claims else [c.name for c in calibrated_claims()]
    wanted = set(rules) if rules else None
    jobs = [
        (name, learner, r, profile, str(out), dict(overrides or {}))
        for name in names
        for learner in learners
        for r in range(first, first + replicates)
    ]
    rows = []

    def collect(job: tuple, found: list) -> None:
        name, learner, r = job[:3]
        for rule, statement, status in found:
            if wanted is not None and rule not in wanted:
                continue
            rows.append(
                {"claim": name, "rule": rule, "learner": learner, "replicate": r,
                 "status": status, "statement": statement}
            )  # fmt: skip
        progress(f"{name} on {learner}, replicate {r}")

    if workers <= 1:
        for job in jobs:
            collect(job, one_replicate(*job))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for job, found in zip(jobs, pool.map(_unpack, jobs), strict=True):
                collect(job, found)
    return pd.DataFrame(rows)


def _unpack(job: tuple) -> list:
    return one_replicate(*job)


def right_answers() -> dict[str, dict[str, str | None]]:
    """{rule id: {learner: right answer}} as the calibrated claims declare them."""
    out: dict[str, dict[str, str | None]] = {}
    for claim in calibrated_claims():
        for rule, answers in claim.calibration.items():
            out[rule.id] = dict(answers)
    return out


def error_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (claim, rule, learner): the right answer, the verdicts counted, the rate of each
    status with Wilson intervals, and whether the rule meets its targets (see the module
    docstring): 'yes', 'no' (the rate itself misses), or 'cannot tell' (the interval
    straddles the target)."""
    answers = right_answers()
    rows = []
    for (claim, rule, learner), g in runs.groupby(["claim", "rule", "learner"], sort=False):
        right = answers.get(rule, {}).get(learner)
        n = len(g)
        counts = {s: int((g["status"] == s).sum()) for s in (S, N, "inconclusive")}
        row: dict[str, Any] = {"claim": claim, "rule": rule, "learner": learner, "right": right,
                               "n": n}  # fmt: skip
        for status, key in ((S, "supported"), (N, "not_supported"), ("inconclusive", "abstain")):
            lo, hi = wilson_interval(counts[status], n)
            row |= {key: counts[status] / n, f"{key}_lo": lo, f"{key}_hi": hi}
        row["meets"] = _meets(row, right)
        rows.append(row)
    return pd.DataFrame(rows)


def _meets(row: dict[str, Any], right: str | None) -> str:
    """Whether a (rule, learner) row meets its targets (see the module docstring)."""
    if right == S:
        size = _target(row["not_supported"], row["not_supported_hi"], SIZE, upper=True)
        abstain = _target(row["abstain"], row["abstain_hi"], ABSTAIN, upper=True)
        return size if abstain == "yes" else abstain if size == "yes" else "no" if "no" in (
            size, abstain) else "cannot tell"  # fmt: skip
    if right == N:
        return _target(row["not_supported"], row["not_supported_lo"], POWER, upper=False)
    return "not scored"


def _target(rate: float, bound: float, target: float, upper: bool) -> str:
    if upper:
        return "yes" if bound <= target else "no" if rate > target else "cannot tell"
    return "yes" if bound >= target else "no" if rate < target else "cannot tell"


def markdown_table(rates: pd.DataFrame) -> str:
    """The rates as the docs' table."""
    lines = [
        "| claim | rule | learner | right answer | n | supported | not supported | "
        "inconclusive | meets its targets |",
        "|---|---|---|---|---:|---|---|---|---|",
    ]

    def share(r: Any, key: str) -> str:
        return (f"{getattr(r, key):.0%} [{getattr(r, key + '_lo'):.0%}, "
                f"{getattr(r, key + '_hi'):.0%}]")  # fmt: skip

    for r in rates.itertuples(index=False):
        lines.append(
            f"| {r.claim} | {r.rule} | {r.learner} | {r.right or '-'} | {r.n} | "
            f"{share(r, 'supported')} | {share(r, 'not_supported')} | {share(r, 'abstain')} | "
            f"{r.meets} |"
        )
    return "\n".join(lines)


def save_rates(
    rates: pd.DataFrame,
    profile: str,
    replicates: int,
    path: Path,
    merge: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """The rates as JSON the report reads, each row with the profile, its setting overrides,
    the replicates and the claim version it was measured at; with `merge`, rows of other rules
    already in the file are kept (a rule can be measured with more replicates than another)."""
    from bayesmatrix.claims import get_claim
    from bayesmatrix.results.io import write_text
    from bayesmatrix.results.store import digest

    claims = {c: get_claim(c) for c in rates["claim"].unique()}
    versions = {c: claim.version for c, claim in claims.items()}
    digests = {
        c: digest(
            claim.configure(profile if profile in claim.profiles else "full", **(overrides or {}))
        )
        for c, claim in claims.items()
    }
    rows = rates.assign(
        profile=profile,
        overrides=[dict(overrides or {})] * len(rates),
        replicates=replicates,
        version=rates["claim"].map(versions),
        settings=rates["claim"].map(digests),
    ).to_dict("records")
    if merge and path.is_file():
        mine = {r["rule"] for r in rows}
        kept = json.loads(path.read_text(encoding="utf-8")).get("rates", [])
        current = {c.name: c.version for c in calibrated_claims()}
        rows = [
            r for r in kept if r["rule"] not in mine and r.get("version") == current.get(r["claim"])
        ] + rows  # fmt: skip
    body = {"learners": LEARNERS, "targets": {"size": SIZE, "power": POWER, "abstain": ABSTAIN},
            "rates": rows}  # fmt: skip
    return write_text(path, json.dumps(body, indent=1, default=float) + "\n")
