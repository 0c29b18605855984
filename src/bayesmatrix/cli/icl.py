"""`bayesmatrix icl`: in-context learning as Bayesian updating (the registered `icl` claim,
and with --martingale the `martingale` claim)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import (
    Device,
    Dtype,
    ExecutorName,
    Force,
    RayAddress,
    app,
    check_models,
    configure_options,
    console,
    distinct,
    executor,
    loader,
)
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.analysis import IclAnalysis

# seconds one bootstrap resample of the learner fits takes per (model, task, condition) group
SECONDS_PER_RESAMPLE = 0.05


@app.command("icl")
def icl_cmd(
    model: Annotated[list[str], typer.Option(help="model(s); repeat the option")] = [  # noqa: B006
        DEFAULT_MODEL
    ],
    task: Annotated[
        list[str] | None,
        typer.Option(help="shipped task name or a .jsonl file; repeat the option"),
    ] = None,
    conditions: Annotated[
        str | None,
        typer.Option(
            help="comma list: regular,flipped[:p],sul,random,flip-half (default: "
            "regular,flipped,sul)"
        ),
    ] = None,
    sul_words: Annotated[
        str | None, typer.Option(help="comma list of unrelated label words for the sul condition")
    ] = None,
    prompt_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="instructed (the task's instruction and template; default) or plain "
            "(Input:/Output:, no instruction, as in 0.3.0)",
        ),
    ] = None,
    shots: Annotated[int | None, typer.Option(help="demonstrations per context")] = None,
    seeds: Annotated[int | None, typer.Option(help="seeded demonstration orders per cell")] = None,
    bootstrap: Annotated[int | None, typer.Option(help="bootstrap resamples for intervals")] = None,
    out: Annotated[Path, typer.Option(help="output directory (resumes if it exists)")] = Path(
        "runs/icl"
    ),
    martingale: Annotated[
        bool, typer.Option(help="also run the martingale check into OUT/martingale")
    ] = False,
    force: Force = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """In-context learning as Bayesian updating: fitted prior strength, verdicts, models compared.

    The `icl` claim: an option left out takes the full profile's value (`bayesmatrix claims
    --profile full` lists them). One forward pass per context; Beta-Bernoulli,
    hypothesis-mixture and recency learners are fitted to the LM's curves; a sweep killed
    midway resumes from the finished cells."""
    from bayesmatrix.bayes.stats import check_bootstrap
    from bayesmatrix.claims import get_claim
    from bayesmatrix.claims._icl import conditions as parse_conditions
    from bayesmatrix.cli.run import run_and_report
    from bayesmatrix.experiments.icl.sweep import check_cell
    from bayesmatrix.results.io import write_parquet

    def listed(text: str | None, option: str) -> list[str] | None:
        if text is None:
            return None
        values = [x.strip() for x in text.split(",") if x.strip()]
        if not values and option == "--conditions":
            raise BayesmatrixError("--conditions is empty; e.g. --conditions regular,flipped,sul")
        return values

    claim = get_claim("icl")
    given = {
        "tasks": task or None,
        "conditions": listed(conditions, "--conditions"),
        "sul_words": listed(sul_words, "--sul-words"),
        "format": prompt_format,
        "shots": shots,
        "seeds": seeds,
    }
    if bootstrap is not None:
        given["bootstrap"] = check_bootstrap(
            bootstrap, SECONDS_PER_RESAMPLE * len(model) * len(given["conditions"] or "xyz")
        )
    settings = configure_options("icl", **given)
    check_models(model)  # fail on a bad name before any work, not after the first model's cells
    load = loader(device, dtype)
    distinct(model, "--model", key=load.identity)
    conds = distinct(parse_conditions(settings), "--conditions")
    tasks = distinct(claim.data(settings), "--task", key=lambda t: t.digest)
    for t in tasks:
        for c in conds:
            check_cell(t, c, settings["shots"])
    runner = executor(executor_name, ray_address)
    total = len(model) * len(tasks) * len(conds) * settings["seeds"]
    (analysis,) = run_and_report(claim, model, settings, out, force, load, "full", runner, total)
    console.print(_fits_table(analysis))
    comparison = analysis.compare_models()
    if len(comparison):
        console.print(comparison.to_string(index=False), markup=False, soft_wrap=True)
        write_parquet(comparison, out / "comparison.parquet")
    if martingale:
        check = get_claim("martingale")
        chosen = check.configure(
            "full", **{k: settings[k] for k in ("tasks", "conditions", "sul_words", "format")},
            seeds=min(settings["seeds"], 5),
        )  # fmt: skip
        usable = len([c for c in conds if c.name != "random"])
        total = len(model) * len(tasks) * usable * chosen["seeds"]
        run_and_report(check, model, chosen, out / "martingale", force, load, "full", runner, total)


def _fits_table(analysis: IclAnalysis) -> Table:
    table = Table(
        "model", "task", "condition", "learner", "kappa [95% CI]", "R^2", "KL bits", "CV CE"
    )
    for row in analysis.fits.itertuples(index=False):
        kappa = (
            f"{row.kappa:.2f} [{row.kappa_lo:.2f}, {row.kappa_hi:.2f}]"
            if row.learner != "hypothesis-mixture"
            else ""
        )
        table.add_row(
            row.model,
            row.task,
            row.condition,
            row.learner,
            kappa,
            f"{row.r2:.2f}",
            f"{row.kl_bits:.4f}",
            f"{row.cv_ce:.4f}",
        )
    return table
