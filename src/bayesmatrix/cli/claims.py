"""Commands for single claims with options of their own: continuity (Theorem 1), entropy
reduction (Theorem 3), chain of thought and the hallucination signal. Each is `bayesmatrix run
CLAIM` with named options: an option left out takes the full profile's value (`bayesmatrix
claims --profile full` shows them), so a command's defaults can never drift from it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bayesmatrix.cli import Device, Dtype, Force, app, configure_options, distinct, loader
from bayesmatrix.cli.run import run_and_report
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL

Models = Annotated[list[str], typer.Option("--model", help="model(s); repeat the option")]
Out = Annotated[Path, typer.Option(help="output directory (finished models are reused)")]


def run_named(
    name: str, models: list[str], out: Path, force: bool, device: str, dtype: str, **given: Any
) -> list[Any]:
    """Run a claim with the options given (None: the full profile's value)."""
    from bayesmatrix.claims import get_claim

    settings = configure_options(name, **given)
    return run_and_report(get_claim(name), models, settings, out, force, loader(device, dtype))


@app.command("continuity")
def continuity_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    layers: Annotated[
        str, typer.Option(help="comma list of hidden-state indices; -1 = last")
    ] = "-1",
    prompts: Annotated[
        int | None, typer.Option(help="positions perturbed / pairs interpolated")
    ] = None,
    bank: Annotated[int | None, typer.Option(help="neighbour bank size")] = None,
    k: Annotated[int | None, typer.Option(help="neighbours averaged")] = None,
    out: Out = Path("runs/continuity"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Theorem 1: rows against embedding perturbations, interpolation, and neighbours (one
    result per layer, in OUT/layerN)."""
    try:
        chosen = [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise BayesmatrixError(f"--layers must be integers like -1,15, not {layers!r}") from None
    distinct(chosen, "--layers")
    if not chosen:
        raise BayesmatrixError("--layers is empty; e.g. --layers -1")
    for layer in chosen:
        run_named(
            "continuity", model, out / f"layer{layer}", force, device, dtype,
            layer=layer, prompts=prompts, bank=bank, k=k,
        )  # fmt: skip


@app.command("entropy")
def entropy_cmd(
    model: Models = [DEFAULT_MODEL],  # noqa: B006
    task: Annotated[str | None, typer.Option(help="ICL task for the 'more examples' pairs")] = None,
    facts: Annotated[Path | None, typer.Option(help="facts JSONL (default: shipped)")] = None,
    n: Annotated[int | None, typer.Option(help="comparisons per source")] = None,
    out: Out = Path("runs/entropy"),
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Theorem 3: does entropy fall, and does the row majorize, as prompts get specific?"""
    facts_ = str(facts) if facts else None
    run_named("entropy", model, out, force, device, dtype, task=task, facts=facts_, n=n)


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
    chosen = str(problems) if problems else None
    run_named("cot", model, out, force, device, dtype, problems=chosen)


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
    chosen = str(facts) if facts else None
    run_named("hallucination", model, out, force, device, dtype, facts=chosen)
