"""`bayesmatrix validate`: every registered claim, on one or more models.

Each (claim, model) result is written to disk as soon as it is finished and reloaded on a rerun
(only for exactly the same inputs), so a killed validation resumes without redoing finished
work. Returns one section per claim with its verdicts, figures and the command that reproduces
each figure; this module only assembles sections: what a claim is lives in bayesmatrix.claims.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayesmatrix.claims import list_claims, run_claim
from bayesmatrix.claims.claim import PROFILE_NAMES, Claim
from bayesmatrix.claims.records import claim_records
from bayesmatrix.claims.registry import distinct_models
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.executor import Executor, Job, LocalExecutor, Resources, releasing_models
from bayesmatrix.models.backends import capability_message
from bayesmatrix.models.loading import Loader
from bayesmatrix.results.outdir import claim_output_dir, locks_released
from bayesmatrix.results.rates import rule_calibration, rule_summary
from bayesmatrix.results.records import VerdictRecord, adjust
from bayesmatrix.results.verdicts import Rule

PROFILES = PROFILE_NAMES


@dataclass
class ClaimSection:
    """One claim in the report: its records (results.records), figures, and, when it did not
    run, why and the command that runs it where it can."""

    claim: str
    title: str
    records: list[VerdictRecord] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, reproducing command)
    note: str = ""
    description: str = ""
    rules: dict[str, str] = field(default_factory=dict)  # rule id -> one sentence
    calibration: dict[str, str] = field(default_factory=dict)  # rule id -> measured rates
    misses: list[str] = field(default_factory=list)  # rules whose rates miss a target
    not_run: str = ""  # why the claim did not run (empty: it ran)
    command: str = ""  # the command that reproduces (or runs) it
    elapsed: float | None = None

    @property
    def verdicts(self) -> list[VerdictRecord]:
        """The records (as the report and the CLI read them)."""
        return self.records


def rule_sentences(claim: Claim) -> dict[str, str]:
    """{rule id: its sentence} of every Rule a claim declares (in its rules or calibration),
    and the rule in words the claim states beside them, under the claim's name: every claim
    says how it is judged."""
    found: dict[str, str] = {}
    for rule in [*claim.rules, *claim.calibration]:
        if isinstance(rule, Rule) and rule.id:
            found[rule.id] = rule.sentence()
    words = [r for r in claim.rules if isinstance(r, str)]
    if words:
        found[claim.name] = "; ".join(words)
    return found


def claim_section(
    claim: Claim,
    results: Sequence[Any],
    models: Sequence[str],
    load: Loader,
    profile: str,
    settings: Mapping[str, Any],
    figures: list[tuple[Path, str]],
    elapsed: float | None,
) -> ClaimSection:
    """The section of a claim that ran."""
    records = claim_records(claim, results, models, load, profile, settings, elapsed)
    calibration = {
        rule.id: line
        for rule in claim.calibration
        if (line := rule_summary(rule.id, claim.version))
    }
    misses = [
        rule.id
        for rule in claim.calibration
        if rule_calibration(rule.id, claim.version).get("misses_a_target")
    ]
    return ClaimSection(
        claim.name, claim.title, records, figures, claim.note(results), claim.description,
        rule_sentences(claim), calibration, misses,
        command=claim.reproduce(models, profile, settings), elapsed=elapsed,
    )  # fmt: skip


def profile_settings(
    profile: str, assignments: Sequence[str] = (), claims: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each claim's settings in a profile (claims without that profile are left out; with
    `claims`, only those), with `claim.key=value` assignments (`validate -s`) applied, each
    checked by its claim. An assignment to a claim that is not run is an error: it would be
    silently ignored."""
    if profile not in PROFILES:
        raise BayesmatrixError(f"unknown profile '{profile}'; choose from {', '.join(PROFILES)}")
    available = {c.name: c for c in list_claims() if profile in c.profiles}
    if claims is not None:
        unknown = sorted(set(claims) - set(available))
        if unknown or not claims:
            raise BayesmatrixError(
                f"no claim(s) {unknown} in profile '{profile}'; choose from {', '.join(available)}"
            )
        if len(set(claims)) != len(claims):
            raise BayesmatrixError("a claim is given twice in --claims; name each once")
    chosen = {n: c for n, c in available.items() if claims is None or n in claims}
    by_claim: dict[str, list[str]] = {}
    for text in assignments:
        name, dot, rest = text.partition(".")
        if not dot or "=" not in rest:
            raise BayesmatrixError(f"-s {text!r}: write claim.key=value, e.g. -s icl.seeds=3")
        if name not in chosen:
            where = "this run's claims" if claims is not None else f"profile '{profile}'"
            raise BayesmatrixError(
                f"-s {text!r}: claim '{name}' is not among {where} ({', '.join(chosen)}); a "
                "setting of a claim that is not run would be ignored"
            )
        by_claim.setdefault(name, []).append(rest)
    return {n: c.parse(by_claim.get(n, []), profile) for n, c in chosen.items()}


@releasing_models
def run_validation(
    models: Sequence[str],
    profile: str,
    out: str | Path,
    load_model: Loader | None = None,
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    executor: Executor | None = None,
    claims: Sequence[str] | None = None,
    assignments: Sequence[str] = (),
) -> list[ClaimSection]:
    """Run every registered claim of the profile on every model (resumably) and return the
    report's sections. `assignments`: `claim.key=value` settings over the profile's. A claim
    that needs a capability the models' backend can never give is skipped before any model
    loads, and its section says why. A result is reused only when it was saved from exactly
    the same inputs (see bayesmatrix.results.store); results of other inputs are refused
    unless `force`.
    With an executor other than the local one, every (claim, model) is first a job of its
    own, written by the worker into `out` (on a cluster: a filesystem all nodes share); the
    sections are then assembled here from the saved results."""
    from bayesmatrix.viz import save_figure

    if isinstance(models, str) or not models:
        raise BayesmatrixError("pass at least one model, as a list: models=['smollm2-135m']")
    settings = profile_settings(profile, assignments, claims)
    load = (load_model if load_model is not None else Loader()).kept()
    distinct_models([str(m) for m in models], load)
    out = claim_output_dir(Path(out)) / profile  # results of different profiles never mix

    unavailable: dict[str, str] = {}
    for claim in list_claims():
        if claim.name in settings and claim.scope != "none":
            missing = {m: load.missing(m, claim.requires) for m in models}
            lacking = {m: caps for m, caps in missing.items() if caps}
            if lacking:
                unavailable[claim.name] = "; ".join(
                    capability_message(m, load.backend(m)[0], caps, claim.name)
                    for m, caps in lacking.items()
                )
    runnable = {k: v for k, v in settings.items() if k not in unavailable}
    if executor is not None and not isinstance(executor, LocalExecutor):
        jobs = claim_jobs(models, runnable, out, load, force)

        def note(job: Job, missing: str | None) -> None:
            if missing:
                unavailable[job.args[0]] = missing

        executor.run(jobs, note, progress)
        force = False  # what the jobs just computed is what the sections read
    sections = []
    for claim in list_claims():
        if claim.name not in settings:
            if claims is None or claim.name in claims:
                sections.append(not_in_profile(claim, profile, models))
            continue
        s = settings[claim.name]
        where = out / claim.name
        progress(claim.name)
        began = time.monotonic()
        try:
            if claim.name in unavailable:
                raise CapabilityError(unavailable[claim.name])
            results = run_claim(claim, models, s, where, load, progress, force)
        except CapabilityError as exc:  # e.g. hidden states from a vLLM server
            sections.append(
                ClaimSection(
                    claim.name, claim.title, description=claim.description,
                    rules=rule_sentences(claim), not_run=f"not available on this backend: {exc}",
                    command=claim.reproduce(["smollm2-135m"], profile, s),
                )
            )  # fmt: skip
            continue
        figures = [
            (save_figure(f.figure, where / f"{f.stem}.png"), f.command)
            for f in claim.draw(results, models, profile, s)
        ]
        elapsed = time.monotonic() - began
        sections.append(claim_section(claim, results, models, load, profile, s, figures, elapsed))
    return adjusted(sections)


def not_in_profile(claim: Claim, profile: str, models: Sequence[str]) -> ClaimSection:
    """The section of a claim that has no settings for this profile (a plug-in's)."""
    others = [p for p in PROFILE_NAMES if p in claim.profiles]
    command = claim.reproduce(models, others[0], claim.profiles[others[0]]) if others else ""
    return ClaimSection(
        claim.name, claim.title, description=claim.description, rules=rule_sentences(claim),
        not_run=f"the claim has no '{profile}' profile (it has {', '.join(others) or 'none'})",
        command=command,
    )  # fmt: skip


def adjusted(sections: list[ClaimSection]) -> list[ClaimSection]:
    """The sections with Holm's adjustment across every test of the run (results.records)."""
    every = [r for s in sections for r in s.records]
    fixed = iter(adjust(every))
    for section in sections:
        section.records = [next(fixed) for _ in section.records]
    return sections


def claim_jobs(
    models: Sequence[str],
    settings: dict[str, dict[str, Any]],
    out: Path,
    load_model: Loader,
    force: bool,
) -> list[Job]:
    """One job per (claim, model) for per-model claims, one per claim otherwise."""
    jobs = []
    for claim in list_claims():
        if claim.name not in settings:
            continue
        groups = [[m] for m in models] if claim.scope == "model" else [list(models)]
        for names in groups:
            key = f"{claim.name} on {', '.join(names)}" if claim.scope != "none" else claim.name
            resources = load_model.resources(names[0]) if claim.scope != "none" else Resources()
            args = (claim.name, names, settings[claim.name], out / claim.name, load_model, force)
            jobs.append(Job(key, _claim_job, args, resources))
    return jobs


def _claim_job(
    name: str,
    models: list[str],
    settings: dict[str, Any],
    where: Path,
    load_model: Loader,
    force: bool,
) -> str | None:
    """A claim on its models, saved under `where` by the worker; the reason when the backend
    cannot run it (returned, not raised: it is an answer, not a failure)."""
    from bayesmatrix.claims import get_claim

    try:
        with locks_released():
            run_claim(get_claim(name), models, settings, where, load_model.kept(), force=force)
    except CapabilityError as exc:
        return str(exc)
    return None
