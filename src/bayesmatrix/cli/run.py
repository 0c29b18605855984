"""`bayesmatrix run CLAIM`: any claim, with a profile and `-s key=value` settings; and `claims`,
the list. The per-claim commands (icl, continuity, ...) call `run_and_report` with the same
settings objects, so every command, figure and report shares one way of running a claim."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

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
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.claims import Claim
    from bayesmatrix.executor import Executor
    from bayesmatrix.models.loading import Loader

Settings = Annotated[
    list[str],
    typer.Option("--set", "-s", help="a setting of the claim, key=value (repeatable)"),
]
Models = Annotated[list[str], typer.Option("--model", help="model(s); repeat the option")]
Profile = Annotated[
    str, typer.Option(help="test (smoke-level), quick (the default) or full (the paper's scale)")
]


def run_and_report(
    claim: Claim,
    models: Sequence[str],
    settings: dict[str, Any],
    out: Path,
    force: bool,
    load: Loader,
    profile: str = "quick",
    runner: Executor | None = None,
    total: int | None = None,
) -> list[Any]:
    """Run a claim (resumably, into `out`), write its figures and verdict records
    (verdicts.json, verdicts.parquet), print its verdicts and the command that reproduces
    it; the results."""
    import time

    from bayesmatrix.claims import run_claim
    from bayesmatrix.claims.records import claim_records
    from bayesmatrix.cli.progress import expected, progress
    from bayesmatrix.results.records import adjust, write_verdicts
    from bayesmatrix.viz import save_figure

    total = claim.units(settings, len(models)) if total is None else total
    began = time.monotonic()
    with progress(claim.name, total, expected(claim.name, profile)) as update:
        results = run_claim(claim, models, settings, out, load, update, force, runner)
    elapsed = time.monotonic() - began
    paths = [
        save_figure(f.figure, out / f"{f.stem}.png")
        for f in claim.draw(results, models, profile, settings)
    ]
    records = adjust(claim_records(claim, results, models, load, profile, settings, elapsed))
    print_records(records)
    note = claim.note(results)
    if note:
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    write_verdicts(out, records)
    console.print(
        f"results: {out}\nfigures: {', '.join(map(str, paths)) or '-'}\nreproduce: "
        + claim.reproduce(models, profile, settings),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return results


@app.command("run")
def run_cmd(
    claim: Annotated[str, typer.Argument(help="a claim (see `bayesmatrix claims`)")],
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    profile: Profile = "quick",
    setting: Settings = [],  # noqa: B006
    out: Annotated[
        Path | None, typer.Option(help="output directory (default runs/CLAIM; resumes)")
    ] = None,
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Run one claim on the model(s): its verdicts, figures and the command that reproduces
    them. Settings come from the profile, each `-s key=value` overriding one."""
    from bayesmatrix.claims import get_claim

    chosen = get_claim(claim)
    settings = chosen.parse(setting, profile)
    load = loader(device, dtype)
    runner = executor(executor_name, ray_address)
    where = out or Path("runs") / chosen.name
    run_and_report(chosen, model, settings, where, force, load, profile, runner)


@app.command("claims")
def claims_cmd(
    profile: Annotated[
        str | None, typer.Option(help="also show each claim's settings in this profile")
    ] = None,
) -> None:
    """List the claims bayesmatrix tests: what each checks, its verdict rule, what it needs."""
    from rich.markup import escape

    from bayesmatrix.claims import list_claims
    from bayesmatrix.claims.claim import PROFILE_NAMES

    if profile is not None and profile not in PROFILE_NAMES:
        raise BayesmatrixError(
            f"unknown --profile '{profile}'; choose from {', '.join(PROFILE_NAMES)}"
        )
    table = Table()
    table.add_column("claim", no_wrap=True)
    for column in ["what it checks", "verdict rule", "needs", *(["settings"] if profile else [])]:
        table.add_column(column)
    for claim in list_claims():
        needs = ", ".join(sorted(claim.requires)) or "-"
        row = [claim.name, claim.description, claim.rule, needs]
        if profile:
            values = claim.profiles.get(profile)
            row.append(
                "(not in this profile)"
                if values is None
                else ", ".join(f"{k}={claim.settings[k].format(v)}" for k, v in values.items())
            )
        table.add_row(*(escape(cell) for cell in row))  # rules hold brackets: not markup
    console.print(table)
