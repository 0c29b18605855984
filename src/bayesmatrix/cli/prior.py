"""`bayesmatrix prior ...`: Theorem 2, Dirichlet-mixture approximations of priors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import Device, Dtype, app, console, loader, output_dir, print_records
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL
from bayesmatrix.results.records import record

prior_app = typer.Typer(
    help="Theorem 2: Dirichlet-mixture approximations of priors.", no_args_is_help=True
)
app.add_typer(prior_app, name="prior")


@prior_app.command("approx")
def prior_approx_cmd(
    source: Annotated[str, typer.Option(help="logistic-normal | spiky | lm")] = "logistic-normal",
    v: Annotated[int, typer.Option("--V", "-V", help="categories (top-V tokens for lm)")] = 3,
    n: Annotated[int, typer.Option(help="points: 2/3 train, 1/3 held out")] = 3000,
    k_max: Annotated[int, typer.Option(help="largest mixture size")] = 6,
    model: Annotated[str, typer.Option(help="model for --source lm")] = DEFAULT_MODEL,
    seed: Annotated[int, typer.Option(help="random seed (non-negative)", min=0)] = 0,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/prior"),
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Fit k = 1..k_max Dirichlet mixtures to a prior; held-out NLL per k, figures, verdict."""
    from bayesmatrix.experiments.prior_approx import (
        SOURCES,
        approximate_prior,
        lm_rows,
        sample_prior,
    )
    from bayesmatrix.viz import plot_heldout_nll, plot_simplex, save_figure

    if source not in SOURCES:
        raise BayesmatrixError(f"unknown --source '{source}'; choose from {', '.join(SOURCES)}")
    if v < 2 or n < 30 or k_max < 2:
        raise BayesmatrixError(
            "need --V >= 2, --n >= 30 and --k-max >= 2 (the claim compares mixtures of k > 1 "
            "components with one Dirichlet)"
        )
    from bayesmatrix.resources import check_memory

    # points, their logs and EM's per-component work arrays, in float64
    check_memory(8.0 * n * v * (4 + 2 * k_max), f"--V {v} with --n {n}", "lower --V or --n")
    output_dir(out)
    truth = None
    if source == "lm":
        from bayesmatrix.data import stdlib_docs

        points = lm_rows(loader(device, dtype)(model), stdlib_docs(max_chars=40 * n), v, n)
    else:
        points, truth = sample_prior(source, v, n, seed)
    cut = 2 * n // 3  # contiguous split: LM rows of neighbouring positions stay on one side
    with console.status(f"fitting k = 1..{k_max} mixtures to {cut} points"):
        result = approximate_prior(points[:cut], points[cut:], k_max, source, truth, seed=seed)
    result.save(out)
    figures = [save_figure(plot_heldout_nll(result), out / "heldout_nll.png")]
    if v == 3:
        best = result.mixtures[result.best_k - 1]
        figures.append(save_figure(plot_simplex(points[cut:], best), out / "simplex.png"))
    table = Table(*result.frame.columns[:8])
    for row in result.frame.itertuples(index=False):
        table.add_row(*(f"{x:.4f}" if isinstance(x, float) else str(x) for x in row[:8]))
    console.print(table)
    print_records([record(result.verdict(), "prior")])
    console.print(f"results: {out}/frame.parquet\nfigures: " + ", ".join(map(str, figures)))
