"""`bayesmatrix icl`: in-context learning as Bayesian updating (the registered `icl` claim,
and with --martingale the `martingale` claim)."""

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
from bayesmatrix.experiments.icl.sweep import SUL_WORDS
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.executor import Executor
    from bayesmatrix.experiments.icl.analysis import IclAnalysis

# seconds one bootstrap resample of the learner fits takes per (model, task, condition) group
SECONDS_PER_RESAMPLE = 0.05


@app.command("icl")
def icl_cmd(
    model: Annotated[list[str], typer.Option(help="model(s); repeat the option")] = [  # noqa: B006
        DEFAULT_MODEL
    ],
    task: Annotated[list[str], typer.Option(help="shipped task name or a .jsonl file")] = [  # noqa: B006
        "sentiment"
    ],
    conditions: Annotated[
        str, typer.Option(help="comma list: regular,flipped[:p],sul,random,flip-half")
    ] = "regular,flipped,sul",
    sul_words: Annotated[
        str, typer.Option(help="comma list of unrelated label words for the sul condition")
    ] = ",".join(SUL_WORDS),
    shots: Annotated[int, typer.Option(help="demonstrations per context")] = 32,
    seeds: Annotated[int, typer.Option(help="seeded demonstration orders per cell")] = 10,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for intervals")] = 100,
    out: Annotated[Path, typer.Option(help="output directory (resumes if it exists)")] = Path(
        "runs/icl"
    ),
    martingale: Annotated[
        bool, typer.Option(help="also run the martingale check (K+1 prompts per k and seed)")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="recompute results saved there from other inputs")
    ] = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """In-context learning as Bayesian updating: fitted prior strength, verdicts, models compared.

    One forward pass per context; Beta-Bernoulli, hypothesis-mixture and recency learners are
    fitted to the LM's curves; a sweep killed midway resumes from the finished cells."""
    from bayesmatrix.bayes.stats import check_bootstrap
    from bayesmatrix.claims import get_claim
    from bayesmatrix.claims.icl import conditions as parse_conditions
    from bayesmatrix.experiments.icl.sweep import check_cell
    from bayesmatrix.results.io import write_json, write_parquet
    from bayesmatrix.viz import save_figure

    words = [w.strip() for w in sul_words.split(",") if w.strip()]
    names = [c.strip() for c in conditions.split(",") if c.strip()]
    if not names:
        raise BayesmatrixError("--conditions is empty; e.g. --conditions regular,flipped,sul")
    if seeds < 1:
        raise BayesmatrixError("--seeds must be at least 1")
    check_bootstrap(bootstrap, SECONDS_PER_RESAMPLE * len(model) * len(names) * len(task))
    check_models(model)  # fail on a bad name before any work, not after the first model's cells
    load = loader(device, dtype)
    distinct(model, "--model", key=load.identity)
    claim = get_claim("icl")
    settings = claim.settings(
        "full",
        tasks=list(task),
        conditions=names,
        sul_words=words,
        shots=shots,
        seeds=seeds,
        bootstrap=bootstrap,
    )
    conds = distinct(parse_conditions(settings), "--conditions")
    tasks = distinct(claim.data(settings), "--task", key=lambda t: t.digest)
    for t in tasks:
        for c in conds:
            check_cell(t, c, shots)
    runner = executor(executor_name, ray_address)
    output_dir(out)
    total = len(model) * len(task) * len(conds) * seeds
    (analysis,) = _run_with_progress(claim, model, settings, out, load, force, total, runner)
    figures = [
        save_figure(f.figure, out / f"{f.stem}.png")
        for f in claim.figures([analysis], model, settings)
    ]
    console.print(_fits_table(analysis))
    verdicts = analysis.verdicts()
    print_verdicts(verdicts)
    comparison = analysis.compare_models()
    if len(comparison):
        console.print(comparison.to_string(index=False), markup=False, soft_wrap=True)
        write_parquet(comparison, out / "comparison.parquet")
    if martingale:
        check = get_claim("martingale")
        chosen = check.settings(
            "full", tasks=list(task), conditions=names, sul_words=words, seeds=min(seeds, 5)
        )
        usable = len([c for c in conds if c.name != "random"])
        (gaps,) = _run_with_progress(
            check,
            model,
            chosen,
            out / "martingale",
            load,
            force,
            len(model) * len(task) * usable * chosen["seeds"],
            runner,
        )
        print_verdicts(gaps.verdicts())
        verdicts += gaps.verdicts()
    write_json(out / "verdicts.json", [v.__dict__ for v in verdicts])
    console.print(
        f"results: {out}/cells.parquet, {out}/fits.parquet, {out}/curves.parquet\nfigures: "
        + ", ".join(map(str, figures))
    )


def _run_with_progress(
    claim: Any,
    models: Sequence[str],
    settings: dict,
    out: Path,
    load: Any,
    force: bool,
    total: int,
    runner: Executor,
) -> list[Any]:
    """run_claim with progress over the sweep's cells (a bar on a terminal, plain lines in a
    log), then over the analysis of each (model, task, condition)."""
    from bayesmatrix.claims import run_claim
    from bayesmatrix.cli.progress import progress

    with progress(f"{claim.name} cells ({runner.name})", total) as update:
        return run_claim(claim, models, settings, out, load, update, force, runner)


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
