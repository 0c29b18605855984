"""`bayesmatrix atlas` (the same claims on many models, one table and one page) and
`bayesmatrix compare` (what changed between two runs)."""

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
    console,
    executor,
    loader,
)
from bayesmatrix.cli.run import Profile


@app.command("atlas")
def atlas_cmd(
    models: Annotated[
        list[str],
        typer.Argument(
            help="models to compare: names, folders, .gguf files, served URLs, learner:KIND"
        ),
    ],
    profile: Profile = "quick",
    out: Annotated[Path, typer.Option(help="output directory (a rerun resumes)")] = Path(
        "runs/atlas"
    ),
    claims: Annotated[
        str | None,
        typer.Option(help="comma list of claims (default: every claim about a model)"),
    ] = None,
    setting: Annotated[
        list[str],
        typer.Option("--set", "-s", help="a claim's setting, claim.key=value (repeatable)"),
    ] = [],  # noqa: B006
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Validate the claims on every model and write atlas.html and atlas.parquet (one row per
    model and verdict); a model already done is reused when another is added."""
    from bayesmatrix.cli.progress import progress
    from bayesmatrix.report.atlas import PAGE, TABLE, atlas, atlas_claims

    chosen = None if claims is None else [c.strip() for c in claims.split(",") if c.strip()]
    note = f"{len(atlas_claims(profile, chosen))} claims x {len(models)} models, {profile} profile"
    with progress("atlas", note=note) as update:
        table = atlas(
            models,
            profile,
            out,
            loader(device, dtype),
            progress=update,
            force=force,
            executor=executor(executor_name, ray_address),
            claims=chosen,
            assignments=setting,
        )
    counts = table.groupby("model", sort=False)["status"].value_counts().unstack(fill_value=0)
    for model, row in counts.iterrows():
        shown = ", ".join(f"{n} {status}" for status, n in row.items() if n)
        console.print(f"{model}: {shown}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"atlas written to {out / PAGE} and {out / TABLE}", soft_wrap=True)


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="a run's folder (or its verdicts.json)")],
    run_b: Annotated[Path, typer.Argument(help="another run's folder (or its verdicts.json)")],
    every: Annotated[bool, typer.Option("--all", help="list unchanged verdicts too")] = False,
) -> None:
    """List the verdicts of two runs that changed: status, estimates whose 95% intervals are
    apart, and verdicts only one run has."""
    from bayesmatrix.report.html import fmt_number
    from bayesmatrix.results.compare import compare_runs

    table = compare_runs(run_a, run_b, everything=every)
    if table.empty:
        console.print("no verdict changed beyond its interval")
        return

    def shown(row, side: str) -> str:
        if not isinstance(row[f"status_{side}"], str):
            return "-"
        return (
            f"{row[f'status_{side}']} {fmt_number(row[f'estimate_{side}'])} "
            f"[{fmt_number(row[f'lo_{side}'])}, {fmt_number(row[f'hi_{side}'])}]"
        )

    for _, row in table.iterrows():
        console.print(
            f"{row['change']}: {row['rule']}: {row['key']}: A {shown(row, 'a')} -> "
            f"B {shown(row, 'b')}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
