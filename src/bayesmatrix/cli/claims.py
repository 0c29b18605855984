"""Commands for the registered claims: `claims` lists them; continuity (Theorem 1), entropy
reduction (Theorem 3), chain of thought and the hallucination signal run one each. A command
runs its claim from the registry (defaults: the `full` profile's settings, options override
them), saves each model's result as soon as it is done (a rerun with the same inputs loads it),
draws the claim's figures and prints its verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bayesmatrix.cli import (
    Device,
    Dtype,
    app,
    check_models,
    console,
    distinct,
    loader,
    output_dir,
    print_verdicts,
)
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.models.lm import Loader

Models = Annotated[list[str], typer.Option("--model", help="model(s); repeat the option")]
Out = Annotated[Path, typer.Option(help="output directory (finished models are reused)")]
Force = Annotated[bool, typer.Option(help="recompute results saved there from other inputs")]


def run_registered(
    name: str, models: list[str], out: Path, force: bool, load: Loader, **settings: Any
) -> list[Any]:
    """Run a registered claim with the full profile's settings overridden by `settings`."""
    from bayesmatrix.claims import get_claim, run_claim
    from bayesmatrix.cli.progress import progress

    check_models(models)
    distinct(models, "--model", key=load.identity)
    claim = get_claim(name)
    chosen = claim.settings("full", **settings)
    output_dir(out)
    with progress(name) as update:
        return run_claim(claim, models, chosen, out, load, update, force)


def finish(name: str, results: list[Any], models: list[str], out: Path, **settings: Any) -> None:
    """Write the claim's figures into `out` and print its verdicts."""
    from bayesmatrix.claims import get_claim, verdicts_of
    from bayesmatrix.viz import save_figure

    claim = get_claim(name)
    chosen = claim.settings("full", **settings)
    paths = [
        save_figure(f.figure, out / f"{f.stem}.png") for f in claim.figures(results, models, chosen)
    ]
    print_verdicts(verdicts_of(results))
    console.print(f"results: {out}/<model>/\nfigures: " + ", ".join(map(str, paths)))


@app.command("claims")
def claims_cmd(
    profile: Annotated[
        str | None, typer.Option(help="also show each claim's settings in this profile")
    ] = None,
) -> None:
    """List the claims bayesmatrix tests, with what each checks and its verdict rule."""
    from rich.markup import escape

    from bayesmatrix.claims import list_claims
    from bayesmatrix.claims.registry import PROFILE_NAMES

    if profile is not None and profile not in PROFILE_NAMES:
        raise BayesmatrixError(
            f"unknown --profile '{profile}'; choose from {', '.join(PROFILE_NAMES)}"
        )
    table = Table("claim", "what it checks", "verdict rule", *(["settings"] if profile else []))
    for claim in list_claims():
        row = [claim.name, claim.description, claim.rule]
        if profile:
            values = claim.profiles.get(profile)
            row.append(
                "(not in this profile)"
                if values is None
                else ", ".join(f"{k}={v}" for k, v in values.items())
            )
        table.add_row(*(escape(cell) for cell in row))  # rules hold brackets: not markup
    console.print(table)


@app.command("continuity")
def continuity_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    layers: Annotated[
        str, typer.Option(help="comma list of hidden-state indices; -1 = last")
    ] = "-1",
    prompts: Annotated[int, typer.Option(help="positions perturbed / pairs interpolated")] = 48,
    bank: Annotated[int, typer.Option(help="neighbour bank size")] = 400,
    k: Annotated[int, typer.Option(help="neighbours averaged")] = 8,
    out: Out = Path("runs/continuity"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Theorem 1: rows against embedding perturbations, interpolation, and neighbours."""
    try:
        chosen = [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise BayesmatrixError(f"--layers must be integers like -1,15, not {layers!r}") from None
    distinct(chosen, "--layers")
    if not chosen:
        raise BayesmatrixError("--layers is empty; e.g. --layers -1")
    output_dir(out)
    load = loader(device, dtype)
    results = []
    for layer in chosen:
        settings = {"layer": layer, "prompts": prompts, "bank": bank, "k": k}
        where = out / f"layer{layer}"
        results += run_registered("continuity", model, where, force, load, **settings)
    finish("continuity", results, model, out, layer=chosen[0], prompts=prompts, bank=bank, k=k)


@app.command("entropy")
def entropy_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    task: Annotated[str, typer.Option(help="ICL task for the 'more examples' comparison")] = (
        "sentiment"
    ),
    facts: Annotated[Path | None, typer.Option(help="facts JSONL (default: shipped)")] = None,
    n: Annotated[int, typer.Option(help="comparisons per source")] = 60,
    out: Out = Path("runs/entropy"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Theorem 3: does entropy fall, and does the row majorize, as prompts get specific?"""
    if n < 2:
        raise BayesmatrixError("--n must be at least 2")
    settings = {"task": task, "facts": str(facts) if facts else None, "n": n}
    results = run_registered("entropy", model, out, force, loader(device, dtype), **settings)
    finish("entropy", results, model, out, **settings)


@app.command("cot")
def cot_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    problems: Annotated[Path | None, typer.Option(help="problems JSONL (default: shipped)")] = None,
    out: Out = Path("runs/cot"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Chain of thought: answer-row entropy and P(answer) with and without the steps."""
    settings = {"problems": str(problems) if problems else None}
    results = run_registered("cot", model, out, force, loader(device, dtype), **settings)
    finish("cot", results, model, out, **settings)


@app.command("hallucination")
def hallucination_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    facts: Annotated[Path | None, typer.Option(help="facts JSONL (default: shipped)")] = None,
    out: Out = Path("runs/hallucination"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Hallucination signal: AUROC of answer-row entropy and top-1 probability."""
    settings = {"facts": str(facts) if facts else None}
    results = run_registered("hallucination", model, out, force, loader(device, dtype), **settings)
    finish("hallucination", results, model, out, **settings)
