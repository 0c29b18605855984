"""`bayesmatrix validate`: every registered claim, on one or more models.

Each (claim, model) result is written to disk as soon as it is finished and reloaded on a rerun
(only for exactly the same inputs), so a killed validation resumes without redoing finished
work. Returns one section per claim with its verdicts, figures and the command that reproduces
each figure; this module only assembles sections: what a claim is lives in bayesmatrix.claims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayesmatrix.claims import list_claims, run_claim, verdicts_of
from bayesmatrix.claims.claim import PROFILE_NAMES
from bayesmatrix.claims.registry import distinct_models
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.executor import Executor, Job, LocalExecutor, Resources
from bayesmatrix.models.backends import capability_message
from bayesmatrix.models.loading import Loader
from bayesmatrix.results.outdir import claim_output_dir
from bayesmatrix.results.rates import rule_summary
from bayesmatrix.results.verdicts import Verdict

PROFILES = PROFILE_NAMES


@dataclass
class ClaimSection:
    """One claim in the report."""

    title: str
    verdicts: list[Verdict] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, reproducing command)
    note: str = ""
    rule: str = ""
    calibration: str = ""  # the rule's measured error rates (report.calibration)


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
            continue
        s = settings[claim.name]
        where = out / claim.name
        progress(claim.name)
        try:
            if claim.name in unavailable:
                raise CapabilityError(unavailable[claim.name])
            results = run_claim(claim, models, s, where, load, progress, force)
        except CapabilityError as exc:  # e.g. hidden states from a vLLM server
            note = f"Not available on this backend: {exc}"
            sections.append(ClaimSection(claim.title, note=note, rule=claim.rule))
            continue
        figures = [
            (save_figure(f.figure, where / f"{f.stem}.png"), f.command)
            for f in claim.draw(results, models, profile, s)
        ]
        sections.append(
            ClaimSection(
                claim.title,
                verdicts_of(results),
                figures,
                claim.note(results),
                claim.rule,
                " | ".join(
                    f"{rule.id}: {line}"
                    for rule in claim.calibration
                    if (line := rule_summary(rule.id, claim.version))
                ),
            )
        )
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
        run_claim(get_claim(name), models, settings, where, load_model.kept(), force=force)
    except CapabilityError as exc:
        return str(exc)
    return None
