"""An atlas: the same claims validated on many models, one verdict table across them.

Each model is validated on its own (one job per model: a Ray worker each, or one after
another locally) into `out/models/<model>/`, exactly as `bayesmatrix validate` would, so a
model already done is reused when another is added (results are reused only when saved from
the same inputs, see bayesmatrix.results.store). The table has one row per model and verdict
(the record's fields, its interval as `lo`/`hi`, and `key`: the verdict's statement with the
model's name taken out, so one verdict lines up across models). Learners by construction
(`learner:...`) are reference columns: their right answer per rule is known (the calibrated
claims declare it), so the atlas shows where a rule separates a Bayesian learner from a
forgetting one and where it does not. Claims that are the same for every model (no model in
scope: the wind tunnel, the prior approximation) are left out unless asked for."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayesmatrix.claims import list_claims
from bayesmatrix.claims.registry import distinct_models, model_folder
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor, Job, LocalExecutor
from bayesmatrix.models.learner_spec import PREFIX as LEARNER
from bayesmatrix.models.learner_spec import LearnerSpec
from bayesmatrix.models.loading import Loader
from bayesmatrix.report.atlas_page import render_atlas
from bayesmatrix.report.validate import profile_settings, run_validation
from bayesmatrix.results.compare import number_repeats, verdict_key
from bayesmatrix.results.io import write_parquet
from bayesmatrix.results.outdir import claim_output_dir, locks_released
from bayesmatrix.results.records import load_records, write_verdicts

TABLE = "atlas.parquet"
PAGE = "atlas.html"
COLUMNS = [
    "model", "claim", "rule", "key", "status", "estimate", "lo", "hi", "interval",
    "threshold", "direction", "parameters", "reference", "expected", "statement", "evidence",
]  # fmt: skip


def atlas_claims(profile: str, claims: Sequence[str] | None) -> list[str]:
    """The claims an atlas runs: the named ones, else every claim of the profile that is
    about a model."""
    if claims is not None:
        return list(claims)
    return [c.name for c in list_claims() if profile in c.profiles and c.scope != "none"]


def folder_of(out: Path, model: str) -> Path:
    """Where one model's validation of the atlas lives."""
    return out / "models" / model_folder(model)


def validate_model(
    model: str,
    profile: str,
    folder: Path,
    claims: list[str],
    assignments: tuple[str, ...],
    load: Loader,
    force: bool,
) -> None:
    """One model's validation, saved in `folder` with its verdict records (an atlas job:
    module-level, so a Ray worker can run it)."""
    with locks_released():
        sections = run_validation(
            [model], profile, folder, load, force=force, claims=claims, assignments=assignments
        )
        write_verdicts(folder, [r for s in sections for r in s.records])


def atlas(
    models: Sequence[str],
    profile: str = "quick",
    out: str | Path = "runs/atlas",
    load_model: Loader | None = None,
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    executor: Executor | None = None,
    claims: Sequence[str] | None = None,
    assignments: Sequence[str] = (),
) -> pd.DataFrame:
    """Validate the claims on every model (names, folders, .gguf files, served URLs,
    `learner:KIND` references; one job each), write out/atlas.html and out/atlas.parquet, and
    return the table: one row per model and verdict, with model, claim, rule, status,
    estimate and interval. Settings are checked before any model loads; a rerun resumes, and
    a model already done is reused when another is added."""
    if isinstance(models, str) or len(models) < 2:
        raise BayesmatrixError(
            "an atlas compares models: pass at least two, e.g. ['smollm2-135m', 'learner:bayesian']"
        )
    profile_settings(profile, assignments, claims)  # a bad profile or -s fails before any work
    chosen = atlas_claims(profile, claims)
    if not chosen:
        raise BayesmatrixError(f"no claim about a model has a '{profile}' profile")
    profile_settings(profile, assignments, chosen)
    load = (load_model if load_model is not None else Loader()).kept()
    distinct_models([str(m) for m in models], load)
    out = claim_output_dir(Path(out))
    jobs = [
        Job(
            str(m),
            validate_model,
            (str(m), profile, folder_of(out, str(m)), chosen, tuple(assignments), load, force),
            load.resources(str(m)),
        )
        for m in models
    ]
    (executor or LocalExecutor()).run(jobs, lambda job, _: None, progress)
    names = [str(m) for m in models]
    table = atlas_table(out, names)
    write_parquet(table, out / TABLE)
    parts = ["bayesmatrix", "atlas", *names, "--profile", profile, "--out", str(out)]
    parts += [] if claims is None else ["--claims", ",".join(claims)]
    for assignment in assignments:
        parts += ["-s", assignment]
    render_atlas(table, separation(table), names, shlex.join(parts), out / PAGE)
    return table


def expected_status(model: str, rule: str) -> str | None:
    """The right verdict of a rule on a learner by construction (None: not a learner, or the
    rule is not scored on it), as the calibrated claims declare it."""
    if not model.startswith(LEARNER):
        return None
    from bayesmatrix.report.calibration import right_answers

    spec = LearnerSpec.parse(model)
    role = {
        "bayesian": "bayesian-exact" if spec.noise == 0 else "bayesian",
        "recency": "window-4",
        "discount": "decay-0.8",
        "ignorer": "ignorer",
    }[spec.kind]
    return right_answers().get(rule, {}).get(role)


def atlas_table(out: Path, models: Sequence[str]) -> pd.DataFrame:
    """The atlas table of the models' saved validations (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for model in models:
        for r in load_records(folder_of(out, model)):
            lo, hi = r.interval
            rows.append(
                {
                    "model": model, "claim": r.claim, "rule": r.rule,
                    "key": verdict_key(r), "status": r.status,
                    "estimate": r.estimate, "lo": lo, "hi": hi, "interval": [lo, hi],
                    "threshold": r.threshold, "direction": r.direction,
                    "parameters": r.parameters, "reference": model.startswith(LEARNER),
                    "expected": expected_status(model, r.rule), "statement": r.statement,
                    "evidence": r.evidence,
                }
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    # one verdict given several times per model (e.g. per task): numbered in order
    table["key"] = number_repeats(table, ["model", "claim", "rule", "key"])
    return table


def verdict_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Statuses as a matrix: one row per (claim, rule, key), one column per model."""
    return table.pivot_table(
        index=["claim", "rule", "key"], columns="model", values="status", aggfunc="first",
        sort=False,
    )  # fmt: skip


def separation(table: pd.DataFrame) -> pd.DataFrame:
    """Per (claim, rule, key) over the reference learners: how many got their right verdict
    and whether the rule separates them (their right answers differ and each got its own)."""
    refs = table[table["reference"] & table["expected"].notna()]
    rows = []
    for (claim, rule, key), g in refs.groupby(["claim", "rule", "key"], sort=False):
        right = g["status"] == g["expected"]
        rows.append(
            {
                "claim": claim, "rule": rule, "key": key, "references": len(g),
                "right": int(right.sum()),
                "separates": bool(g["expected"].nunique() > 1 and right.all()),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["claim", "rule", "key", "references", "right", "separates"])
