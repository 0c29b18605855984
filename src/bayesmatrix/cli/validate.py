"""`bayesmatrix validate`: the main job. Every claim, one self-contained HTML report."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from bayesmatrix.cli import (
    Device,
    Dtype,
    ExecutorName,
    Force,
    RayAddress,
    app,
    console,
    executor,
    loader,
    print_records,
)
from bayesmatrix.cli.run import Models, Profile
from bayesmatrix.models.registry import DEFAULT_MODEL


@app.command("validate")
def validate_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    profile: Profile = "quick",
    out: Annotated[Path, typer.Option(help="output directory (a rerun resumes)")] = Path(
        "runs/validate"
    ),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    claims: Annotated[
        str | None, typer.Option(help="comma list of claims (default: all of the profile)")
    ] = None,
    setting: Annotated[
        list[str],
        typer.Option("--set", "-s", help="a claim's setting, claim.key=value (repeatable)"),
    ] = [],  # noqa: B006
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Validate the paper's claims on the model(s) and write one self-contained HTML report."""
    from bayesmatrix.cli.progress import progress
    from bayesmatrix.report import render_report, run_validation
    from bayesmatrix.report.validate import profile_settings
    from bayesmatrix.results.records import write_verdicts
    from bayesmatrix.results.times import claim_seconds

    chosen = None if claims is None else [c.strip() for c in claims.split(",") if c.strip()]
    settings_by_claim = profile_settings(profile, setting, chosen)  # bad -s: before any work
    load = loader(device, dtype)
    runner = executor(executor_name, ray_address)
    total = sum(claim_seconds(c, profile) or 0.0 for c in settings_by_claim) * len(model)
    note = f"{len(settings_by_claim)} claims x {len(model)} model(s), {profile} profile" + (
        f", about {total / 60:.0f} min on 2 CPU cores (benchmarks/claim_times.py)" if total else ""
    )
    with progress("validating", note=note) as update:
        sections = run_validation(
            model,
            profile,
            out,
            load,
            progress=update,
            force=force,
            executor=runner,
            claims=chosen,
            assignments=setting,
        )
    records = [r for s in sections for r in s.records]
    print_records(records)
    parts = ["bayesmatrix", "validate"]
    for m in model:
        parts += ["--model", m]
    parts += ["--profile", profile, "--out", str(out)]
    parts += [] if dtype == "float32" else ["--dtype", dtype]
    parts += [] if claims is None else ["--claims", claims]
    for assignment in setting:
        parts += ["-s", assignment]
    command = shlex.join(parts)
    settings = {
        f"{claim}.{key}": value
        for claim, values in settings_by_claim.items()
        for key, value in values.items()
    }
    report = render_report(
        sections, model, {"profile": profile, **settings}, command, out / "report.html"
    )
    write_verdicts(out, records)
    for section in sections:
        if section.not_run:
            console.print(f"not run: {section.claim}: {section.not_run}", markup=False,
                          highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"report written to {report}")
