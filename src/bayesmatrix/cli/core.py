"""Commands for the instrumented models: list them, trace a prompt, run the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import (
    Device,
    Dtype,
    app,
    console,
    err,
    loader,
    output_dir,
    read_text,
)
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.models import Trace

DEMO_TEXT = (
    "The capital of France is Paris. The capital of Germany is Berlin. "
    "The capital of Italy is Rome. The capital of Spain is"
)


@app.command("models")
def models_cmd(
    probe: Annotated[
        list[str] | None,
        typer.Option(
            help="a model reference to connect to and describe (backend, rows, the rung that "
            "reads chosen tokens, concurrency); repeat the option"
        ),
    ] = None,
) -> None:
    """List the named models, whether they are installed, and where they live; with --probe,
    how a served model is read."""
    from bayesmatrix.models.registry import DEFAULT_MODEL, list_models

    if probe:
        for reference in probe:
            table = Table("", str(reference))
            for key, value in loader("auto", "float32")(reference).describe().items():
                table.add_row(key, str(value))
            console.print(table)
        return
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
    top_k: Annotated[int, typer.Option(help="alternatives shown per position", min=1)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON records")] = False,
    out: Annotated[
        Path | None, typer.Option(help="directory to save the trace in (Trace.load reads it)")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="write the figure (.png/.svg)")] = None,
    truncate_left: Annotated[bool, typer.Option(help="keep the last tokens if too long")] = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Trace a prompt: per token, p(actual next), entropy, and top alternatives."""
    from bayesmatrix.viz.common import check_figure_path

    if (prompt is None) == (file is None):
        raise BayesmatrixError("give either a PROMPT argument or --file PATH (exactly one)")
    if plot is not None:
        check_figure_path(plot)
    if out is not None:
        output_dir(out)
    load = loader(device, dtype)
    text = read_text(file) if file is not None else str(prompt)  # exactly one was given
    lm = load(model)
    try:
        trace = lm.trace(text, top_k=top_k, truncate="left" if truncate_left else None)
    except BayesmatrixError as exc:
        raise BayesmatrixError(str(exc).replace("truncate='left'", "--truncate-left")) from None
    if as_json:
        sys.stdout.write(trace.to_frame().to_json(orient="records", force_ascii=False) + "\n")
    else:
        console.print(_trace_table(trace, top_k))
    if out is not None:
        err.print(f"trace saved in {trace.save(out)} (bayesmatrix.Trace.load reads it)")
    if plot is not None:
        from bayesmatrix.viz import plot_trace, save_figure

        err.print(f"figure written to {save_figure(plot_trace(trace), plot)}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/demo"),
    model: Annotated[str, typer.Option(help="model to trace")] = DEFAULT_MODEL,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Trace a short prompt on a model and write its table, figure and Parquet results."""
    from bayesmatrix.results.io import write_json
    from bayesmatrix.viz import plot_trace, save_figure

    output_dir(out)
    lm = loader(device, dtype)(model)
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
    write_json(out / "summary.json", summary)
    console.print(f"results: {saved}/trace.parquet\nfigure:  {figure}\nsummary: {out}/summary.json")
