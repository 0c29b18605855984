"""`bayesmatrix validate`: the main job. Every claim, one self-contained HTML report."""

from __future__ import annotations

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
    check_models,
    console,
    distinct,
    executor,
    loader,
    output_dir,
    print_verdicts,
)
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL


@app.command("validate")
def validate_cmd(
    model: Annotated[list[str], typer.Option(help="model(s); repeat the option")] = [  # noqa: B006
        DEFAULT_MODEL
    ],
    profile: Annotated[str, typer.Option(help="quick (minutes) or full")] = "quick",
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
    from bayesmatrix.report import PROFILES, render_report, run_validation
    from bayesmatrix.report.validate import profile_settings
    from bayesmatrix.results.io import write_json

    if profile not in PROFILES:
        raise BayesmatrixError(f"unknown --profile '{profile}'; choose from {', '.join(PROFILES)}")
    settings_by_claim = profile_settings(profile, setting)  # a bad -s fails before any work
    check_models(model)
    load = loader(device, dtype)
    distinct(model, "--model", key=load.identity)
    chosen = None if claims is None else [c.strip() for c in claims.split(",") if c.strip()]
    if chosen is not None:
        distinct(chosen, "--claims")
    runner = executor(executor_name, ray_address)
    output_dir(out)
    with progress("validating") as update:
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
    verdicts = [v for s in sections for v in s.verdicts]
    print_verdicts(verdicts)
    command = (
        "bayesmatrix validate "
        + " ".join(f"--model {m}" for m in model)
        + (f" --profile {profile} --out {out}")
        + ("" if dtype == "float32" else f" --dtype {dtype}")
        + ("" if claims is None else f" --claims {claims}")
        + "".join(f" -s {a}" for a in setting)
    )
    settings = {
        f"{claim}.{key}": value
        for claim, values in settings_by_claim.items()
        for key, value in values.items()
    }
    report = render_report(
        sections, model, {"profile": profile, **settings}, command, out / "report.html"
    )
    write_json(
        out / "verdicts.json",
        [{"section": s.title, **v.__dict__} for s in sections for v in s.verdicts],
    )
    console.print(f"report written to {report}")
