"""`bayesmatrix icl`: in-context learning as Bayesian updating."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import app, check_models, check_out_dir, console, err, print_verdicts
from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bayesmatrix.experiments.icl import Condition
    from bayesmatrix.experiments.icl_tasks import Task
    from bayesmatrix.experiments.result import Verdict
    from bayesmatrix.models import LanguageModel


@app.command("icl")
def icl_cmd(
    model: Annotated[list[str], typer.Option(help="model(s); repeat the option")] = [  # noqa: B006
        "smollm2-135m"
    ],
    task: Annotated[list[str], typer.Option(help="shipped task name or a .jsonl file")] = [  # noqa: B006
        "sentiment"
    ],
    conditions: Annotated[
        str, typer.Option(help="comma list: regular,flipped[:p],sul,random,flip-half")
    ] = "regular,flipped,sul",
    sul_words: Annotated[
        str, typer.Option(help="comma list of unrelated label words for the sul condition")
    ] = "foo,bar,zip,cup,sun,pen,map,jet",
    shots: Annotated[int, typer.Option(help="demonstrations per context")] = 32,
    seeds: Annotated[int, typer.Option(help="seeded demonstration orders per cell")] = 10,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for intervals")] = 100,
    out: Annotated[Path, typer.Option(help="output directory (resumes if it exists)")] = Path(
        "runs/icl"
    ),
    martingale: Annotated[
        bool, typer.Option(help="also run the martingale check (K+1 prompts per k and seed)")
    ] = False,
) -> None:
    """In-context learning as Bayesian updating: fitted prior strength, verdicts, models compared.

    One forward pass per context; Beta-Bernoulli, hypothesis-mixture and recency learners are
    fitted to the LM's curves; a sweep killed midway resumes from the finished cells."""
    from rich.progress import Progress

    from bayesmatrix import load
    from bayesmatrix.experiments.icl import check_cell, parse_condition, run_cell, run_sweep
    from bayesmatrix.experiments.icl_analysis import analyse
    from bayesmatrix.experiments.icl_tasks import get_task
    from bayesmatrix.viz import plot_kappa, plot_learning_curves, save_figure

    tasks = [get_task(t) for t in task]
    words = [w.strip() for w in sul_words.split(",") if w.strip()]
    conds = [parse_condition(c.strip(), words) for c in conditions.split(",") if c.strip()]
    if not conds:
        raise BayesmatrixError("--conditions is empty; e.g. --conditions regular,flipped,sul")
    if seeds < 1 or bootstrap < 0:
        raise BayesmatrixError("--seeds must be at least 1 and --bootstrap at least 0")
    check_out_dir(out)
    check_models(model)  # fail on a bad name before any work, not after the first model's cells
    for t in tasks:
        for c in conds:
            check_cell(t, c, shots)
    total = len(model) * len(tasks) * len(conds) * seeds
    with Progress(console=err, transient=True) as progress:
        bar = progress.add_task("ICL cells", total=total)
        frame = run_sweep(
            model,
            tasks,
            conds,
            range(seeds),
            out,
            load,
            cell=lambda lm, t, c, s: run_cell(lm, t, c, s, shots),
            kind=f"shots{shots}",
            progress=lambda label: progress.update(bar, advance=1, description=label),
        )
    with console.status("fitting learners"):
        analysis = analyse(frame, bootstrap=bootstrap)
    analysis.save(out)
    frame.to_parquet(out / "cells.parquet", index=False)
    figures = [save_figure(plot_kappa(analysis), out / "kappa.png")]
    figures += [
        save_figure(plot_learning_curves(analysis, t.name), out / f"curves_{t.name}.png")
        for t in tasks
    ]
    table = Table("model", "task", "condition", "learner", "kappa [95% CI]", "KL bits", "CV CE")
    for row in analysis.fits.itertuples(index=False):
        kappa = (
            f"{row.strength:.2f} [{row.strength_lo:.2f}, {row.strength_hi:.2f}]"
            if row.learner != "hypothesis-mixture"
            else ""
        )
        table.add_row(
            row.model,
            row.task,
            row.condition,
            row.learner,
            kappa,
            f"{row.kl_bits:.4f}",
            f"{row.cv_ce:.4f}",
        )
    console.print(table)
    verdicts = analysis.verdicts()
    print_verdicts(verdicts)
    comparison = analysis.compare_models()
    if len(comparison):
        console.print(comparison.to_string(index=False), markup=False, soft_wrap=True)
        comparison.to_parquet(out / "comparison.parquet", index=False)
    if martingale:
        verdicts += _martingale(model, tasks, conds, min(seeds, 5), out, load)
    (out / "verdicts.json").write_text(json.dumps([v.__dict__ for v in verdicts], indent=1))
    console.print(
        f"results: {out}/cells.parquet, {out}/fits, {out}/curves\nfigures: "
        + ", ".join(map(str, figures))
    )


def _martingale(
    models: list[str],
    tasks: list[Task],
    conds: list[Condition],
    seeds: int,
    out: Path,
    load: Callable[[str], LanguageModel],
) -> list[Verdict]:
    """Run and summarise the martingale check; cells resume like the main sweep."""
    from rich.progress import Progress

    from bayesmatrix.experiments.icl import run_sweep
    from bayesmatrix.experiments.icl_martingale import martingale_gaps, martingale_verdicts

    usable = [c for c in conds if c.name != "random"]  # random labels have no fixed mapping
    with Progress(console=err, transient=True) as progress:
        bar = progress.add_task("martingale", total=len(models) * len(tasks) * len(usable) * seeds)
        gaps = run_sweep(
            models,
            tasks,
            usable,
            range(seeds),
            out,
            load,
            cell=lambda lm, t, c, s: martingale_gaps(lm, t, c, s),
            kind="martingale-k0-1-2-4-8-16",
            progress=lambda label: progress.update(bar, advance=1, description=label),
        )
    gaps.to_parquet(out / "martingale.parquet", index=False)
    verdicts = martingale_verdicts(gaps)
    print_verdicts(verdicts)
    return verdicts
