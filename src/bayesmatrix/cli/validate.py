"""`bayesmatrix validate`: the main job. Every claim, one self-contained HTML report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bayesmatrix.cli import (
    Device,
    Dtype,
    ExecutorName,
    RayAddress,
    app,
    check_models,
    check_out_dir,
    console,
    executor,
    loader,
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
    force: Annotated[
        bool, typer.Option(help="recompute results saved there from other inputs")
    ] = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    claims: Annotated[
        str | None, typer.Option(help="comma list of claims (default: all of the profile)")
    ] = None,
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Validate the paper's claims on the model(s) and write one self-contained HTML report."""
    from bayesmatrix.report import PROFILES, render_report, run_validation
    from bayesmatrix.report.validate import profile_settings

    check_models(model)
    check_out_dir(out)
    load = loader(device, dtype)
    runner = executor(executor_name, ray_address)
    if profile not in PROFILES:
        raise BayesmatrixError(f"unknown --profile '{profile}'; choose from {', '.join(PROFILES)}")
    with console.status("validating") as status:
        sections = run_validation(
            model,
            profile,
            out,
            load,
            progress=lambda label: status.update(f"validating: {label}"),
            force=force,
            executor=runner,
            claims=None if claims is None else [c.strip() for c in claims.split(",") if c.strip()],
        )
    verdicts = [v for s in sections for v in s.verdicts]
    print_verdicts(verdicts)
    command = (
        "bayesmatrix validate "
        + " ".join(f"--model {m}" for m in model)
        + (f" --profile {profile} --out {out}")
        + ("" if dtype == "float32" else f" --dtype {dtype}")
        + ("" if claims is None else f" --claims {claims}")
    )
    settings = {
        f"{claim}.{key}": value
        for claim, values in profile_settings(profile).items()
        for key, value in values.items()
    }
    report = render_report(
        sections, model, {"profile": profile, **settings}, command, out / "report.html"
    )
    (out / "verdicts.json").write_text(
        json.dumps(
            [{"section": s.title, **v.__dict__} for s in sections for v in s.verdicts], indent=1
        )
    )
    console.print(f"report written to {report}")
