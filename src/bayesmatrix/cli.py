"""Command line: parse, call the library, show progress and tables, write files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bayesmatrix.experiments.icl import Condition
    from bayesmatrix.experiments.icl_tasks import Task
    from bayesmatrix.experiments.result import Verdict
    from bayesmatrix.models import LanguageModel, Trace

app = typer.Typer(
    help="Test the Bayesian theory of language models (Dalal & Misra, 'The Matrix') on real "
    "models: read rows of an LM's next-token matrix and turn them into verdicts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DEMO_TEXT = (
    "The capital of France is Paris. The capital of Germany is Berlin. "
    "The capital of Italy is Rome. The capital of Spain is"
)


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, or fail with a message saying how to fix it."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BayesmatrixError(f"file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise BayesmatrixError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path} > fixed.txt`"
        ) from None


@app.command("models")
def models_cmd() -> None:
    """List the named models, whether they are installed, and where they live."""
    from bayesmatrix.models.registry import DEFAULT_MODEL, list_models

    table = Table("name", "installed", "location / install command", "description")
    for spec in list_models():
        installed = spec.installed()
        if installed:
            try:
                where = str(spec.path())
            except BayesmatrixError as exc:
                installed, where = False, str(exc)
        else:
            where = spec.install
        name = spec.name + (" (default)" if spec.name == DEFAULT_MODEL else "")
        table.add_row(name, "yes" if installed else "no", where, spec.description)
    console.print(table)


def _trace_table(trace: Trace, top_k: int) -> Table:
    table = Table("pos", "token", "next", "p(next)", "H bits", f"top-{top_k} alternatives")
    frame = trace.to_frame()
    last = len(frame) - 1
    for row in frame.itertuples():
        alts = "  ".join(
            f"{t!r}:{p:.2f}" for t, p in zip(row.topk_tokens, row.topk_probs, strict=True)
        )
        at_end = row.position == last
        table.add_row(
            str(row.position),
            repr(row.token),
            "" if at_end else repr(row.next_token),
            "" if at_end else f"{row.p_next:.3f}",
            f"{row.entropy_bits:.2f}",
            alts,
        )
    return table


@app.command("trace")
def trace_cmd(
    model: Annotated[str, typer.Argument(help="named model, .gguf file, HF directory or hub id")],
    prompt: Annotated[str | None, typer.Argument(help="text to trace")] = None,
    file: Annotated[Path | None, typer.Option(help="read the prompt from a UTF-8 file")] = None,
    top_k: Annotated[int, typer.Option(help="alternatives shown per position")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON records")] = False,
    out: Annotated[Path | None, typer.Option(help="write the trace as Parquet")] = None,
    plot: Annotated[Path | None, typer.Option(help="write the figure (.png/.svg)")] = None,
    truncate_left: Annotated[bool, typer.Option(help="keep the last tokens if too long")] = False,
) -> None:
    """Trace a prompt: per token, p(actual next), entropy, and top alternatives."""
    from bayesmatrix import load

    if (prompt is None) == (file is None):
        raise BayesmatrixError("give either a PROMPT argument or --file PATH (exactly one)")
    text = prompt if prompt is not None else read_text(file)  # type: ignore[arg-type]
    lm = load(model)
    trace = lm.trace(text, top_k=top_k, truncate="left" if truncate_left else None)
    if as_json:
        sys.stdout.write(trace.to_frame().to_json(orient="records", force_ascii=False) + "\n")
    else:
        console.print(_trace_table(trace, top_k))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        trace.to_frame().to_parquet(out, index=False)
        err.print(f"trace written to {out}")
    if plot is not None:
        from bayesmatrix.viz import plot_trace, save_figure

        err.print(f"figure written to {save_figure(plot_trace(trace), plot)}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/demo"),
    model: Annotated[str, typer.Option(help="model to trace")] = "smollm2-135m",
) -> None:
    """Trace a short prompt on a model and write its table, figure and Parquet results."""
    from bayesmatrix import load
    from bayesmatrix.viz import plot_trace, save_figure

    lm = load(model)
    trace = lm.trace(DEMO_TEXT, top_k=5)
    saved = trace.save(out / "trace")
    figure = save_figure(plot_trace(trace), out / "trace.png")
    console.print(_trace_table(trace, 5))
    summary = {
        "model": lm.name,
        "tokens": len(trace),
        "mean_entropy_bits": float(trace.entropy_bits.mean()),
        "mean_surprisal_bits": float(trace.surprisal_bits[:-1].mean()),
        "top1_last": trace.topk_tokens[-1][0],
        "p_top1_last": float(trace.topk_probs[-1][0]),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    console.print(f"results: {saved}/trace.parquet\nfigure:  {figure}\nsummary: {out}/summary.json")


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
    model: Annotated[str, typer.Option(help="model for --source lm")] = "smollm2-135m",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/prior"),
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
    if v < 2 or n < 30:
        raise BayesmatrixError("need --V >= 2 and --n >= 30")
    truth = None
    if source == "lm":
        from bayesmatrix import load
        from bayesmatrix.data import stdlib_docs

        points = lm_rows(load(model), stdlib_docs(max_chars=40 * n), v, n)
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
    console.print(str(result.verdict()), markup=False, soft_wrap=True)
    console.print(f"results: {out}/frame.parquet\nfigures: " + ", ".join(map(str, figures)))


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
    from bayesmatrix.experiments.icl import parse_condition, run_cell, run_sweep
    from bayesmatrix.experiments.icl_analysis import analyse
    from bayesmatrix.experiments.icl_tasks import get_task
    from bayesmatrix.viz import plot_kappa, plot_learning_curves, save_figure

    tasks = [get_task(t) for t in task]
    words = [w.strip() for w in sul_words.split(",") if w.strip()]
    conds = [parse_condition(c.strip(), words) for c in conditions.split(",") if c.strip()]
    if not conds:
        raise BayesmatrixError("--conditions is empty; e.g. --conditions regular,flipped,sul")
    if seeds < 1:
        raise BayesmatrixError("--seeds must be at least 1")
    for m in model:  # fail on a bad name before any work, not after the first model's cells
        from bayesmatrix.models.hf import resolve

        resolve(m)
    total = len(model) * len(tasks) * len(conds) * seeds
    with Progress(console=err) as progress:
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
    for verdict in verdicts:
        console.print(str(verdict), markup=False, soft_wrap=True)
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
    with Progress(console=err) as progress:
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
    for verdict in verdicts:
        console.print(str(verdict), markup=False, soft_wrap=True)
    return verdicts


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        app()
    except BayesmatrixError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
