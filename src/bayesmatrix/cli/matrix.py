"""`bayesmatrix matrix build|row|sample|compare`: the ideal matrix of a real corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import (
    Device,
    Dtype,
    ExecutorName,
    RayAddress,
    app,
    console,
    executor,
    loader,
    output_dir,
    read_text,
)
from bayesmatrix.models.registry import DEFAULT_MODEL

matrix_app = typer.Typer(
    help="The ideal matrix of a corpus: suffix-array counts with a hierarchical prior.",
    no_args_is_help=True,
)
app.add_typer(matrix_app, name="matrix")

PriorOpt = Annotated[str, typer.Option(help="dirichlet (hierarchical Dirichlet) | kn (Kneser-Ney)")]


@matrix_app.command("build")
def build_cmd(
    corpus: Annotated[
        list[Path] | None,
        typer.Argument(help="text files or directories; none = Python 3.11 docs (Debian)"),
    ] = None,
    tokenizer: Annotated[str, typer.Option(help="model whose tokenizer to use")] = DEFAULT_MODEL,
    out: Annotated[Path, typer.Option(help="index directory")] = Path("runs/matrix/index"),
    shard_tokens: Annotated[int, typer.Option(help="tokens per suffix-array shard")] = 1 << 26,
    force: Annotated[bool, typer.Option(help="replace an existing index")] = False,
    heldout_every: Annotated[
        int, typer.Option(help="leave every N-th file out, into OUT/heldout.txt (0 = none)")
    ] = 0,
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Tokenise the corpus, build the suffix-array index and fit the prior (atomic).
    With --executor ray, runs of files are tokenised and shards indexed in parallel."""
    from bayesmatrix.cli.progress import progress
    from bayesmatrix.matrix import build
    from bayesmatrix.results.outdir import check_writable_dir, lock

    runner = executor(executor_name, ray_address)
    check_writable_dir(out.parent if out.name else out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock(out.parent / f".{out.name}.lock", out)  # a second build of this index refuses
    with progress("matrix build") as update:
        matrix, stats = build(
            corpus or [],
            tokenizer,
            out,
            shard_tokens,
            force,
            progress=update,
            heldout_every=heldout_every,
            executor=runner,
        )
    fit = matrix.fit
    console.print(
        f"{out}: {stats.tokens:,} tokens in {stats.documents} documents, "
        f"{len(matrix.index.shards)} shard(s), {stats.disk_bytes / stats.tokens:.2f} bytes/token\n"
        f"tokenise {stats.tokenize_seconds:.1f} s + index {stats.index_seconds:.1f} s "
        f"({stats.tokens_per_second:,.0f} tokens/s), prior fit {stats.fit_seconds:.1f} s\n"
        f"hierarchical Dirichlet: a = {fit.a:.3g}, b = {fit.b:.3g} (leave-one-out "
        f"{fit.loo_bits:.3f} bits/token on {fit.positions} positions); Kneser-Ney discounts "
        + ", ".join(f"{d:.2f}" for d in fit.discounts[:6]),
        soft_wrap=True,
    )
    if heldout_every:
        console.print(f"held-out text (not indexed): {out / 'heldout.txt'}")


@matrix_app.command("row")
def row_cmd(
    index: Annotated[Path, typer.Argument(help="index directory")],
    prompt: Annotated[str, typer.Argument(help="context text")],
    prior: PriorOpt = "dirichlet",
    top: Annotated[int, typer.Option(help="tokens to show", min=1)] = 10,
) -> None:
    """Counts after each suffix of the prompt, and the posterior row's most likely tokens."""
    from bayesmatrix.matrix import IdealMatrix

    matrix = IdealMatrix(index)
    row = matrix.row(prompt, prior)
    levels = Table("depth", "suffix", "count", "distinct next", title="corpus counts")
    for level in row.levels:
        ids = row.context_ids[len(row.context_ids) - level.depth :] if level.depth else []
        suffix = matrix.tokenizer.decode(ids) if ids else "(empty)"
        levels.add_row(str(level.depth), repr(suffix), f"{level.total:,}", f"{level.types:,}")
    console.print(levels)
    best = Table("token", "count at deepest", "p", title=f"posterior row ({row.prior})")
    for r in matrix.top(row, top).itertuples():
        best.add_row(repr(r.token), str(r.count), f"{r.prob:.4f}")
    console.print(best)
    console.print(
        f"matched suffix: {row.matched} of {len(row.context_ids)} tokens; entropy "
        f"{row.entropy_bits:.3f} bits; posterior kappa {row.posterior.kappa:.1f}"
    )


@matrix_app.command("sample")
def sample_cmd(
    index: Annotated[Path, typer.Argument(help="index directory")],
    prompt: Annotated[str, typer.Argument(help="context text")],
    n: Annotated[int, typer.Option("-n", help="tokens to generate")] = 30,
    seed: Annotated[int, typer.Option(help="random seed (non-negative)", min=0)] = 0,
    prior: PriorOpt = "dirichlet",
) -> None:
    """Generate text from the matrix's rows."""
    from bayesmatrix.cli.progress import progress
    from bayesmatrix.matrix import IdealMatrix

    matrix = IdealMatrix(index)
    with progress("sampling", n) as update:
        text = matrix.sample(prompt, n, seed, prior, progress=lambda i: update(f"token {i}"))
    console.print(prompt + text, markup=False, highlight=False, soft_wrap=True)


@matrix_app.command("compare")
def compare_cmd(
    index: Annotated[Path, typer.Argument(help="index directory")],
    model: Annotated[str, typer.Argument(help="model name or path (same tokenizer)")],
    textfile: Annotated[Path, typer.Argument(help="held-out UTF-8 text")],
    prior: PriorOpt = "dirichlet",
    max_tokens: Annotated[int, typer.Option(help="tokens of the text to use")] = 4096,
    window: Annotated[int, typer.Option(help="LM context window per chunk")] = 256,
    out: Annotated[
        Path | None,
        typer.Option(help="results directory (resumes); default: one per model and inputs"),
    ] = None,
    force: Annotated[bool, typer.Option(help="replace results of other inputs in --out")] = False,
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """KL both ways, perplexities and mixtures of an LM against the matrix on held-out text."""
    from bayesmatrix.matrix import IdealMatrix
    from bayesmatrix.matrix.compare import Comparison, compare, comparison_inputs
    from bayesmatrix.matrix.ideal import MAX_DEPTH
    from bayesmatrix.results.io import write_json
    from bayesmatrix.results.outdir import safe_name
    from bayesmatrix.results.store import cached, fingerprint
    from bayesmatrix.viz import plot_matrix_comparison, save_figure

    if out is not None:
        output_dir(out)
    load = loader(device, dtype)
    text = read_text(textfile)
    matrix = IdealMatrix(index)
    lm = load(model)
    ids = matrix.encode(text)[:max_tokens]
    inputs = comparison_inputs(matrix, lm, ids, window, prior, MAX_DEPTH)
    if out is None:
        name = safe_name(f"{lm.name}-{fingerprint(inputs)[:8]}")
        out = output_dir(Path("runs/matrix/compare") / name)
    where = out
    result = cached(
        out,
        inputs,
        Comparison.load,
        lambda: compare(matrix, lm, text, where, window, max_tokens, prior, force=force),
        force,
    )
    s = result.summary
    table = Table("", "perplexity", "95% CI (windows)")
    for name in ("matrix", "lm"):
        table.add_row(
            name,
            f"{s[f'ppl_{name}']:.2f}",
            f"[{s[f'ppl_{name}_lo']:.2f}, {s[f'ppl_{name}_hi']:.2f}]",
        )
    console.print(table)
    lines = [
        f"KL(matrix || LM) {s['kl_matrix_lm_bits']:.3f} bits, KL(LM || matrix) "
        f"{s['kl_lm_matrix_bits']:.3f} bits per position; mean matched suffix "
        f"{s['matched_mean']:.2f} tokens over {int(s['positions'])} positions",
    ]
    if "ppl_mix_heldout" in s:
        lines.append(
            f"mixture: weight {s['mix_lambda_heldout']:.2f} on the matrix (chosen on even windows) "
            f"gives {s['ppl_mix_heldout']:.2f} vs LM {s['ppl_lm_heldout']:.2f} on odd windows"
        )
    console.print("\n".join(lines), soft_wrap=True)
    fig = plot_matrix_comparison(
        result.by_matched, result.mixture, f"{lm.name} vs the ideal matrix ({prior})"
    )
    write_json(out / "summary.json", s)  # the figures above, for a reader of the folder
    console.print(
        f"results: {out}/summary.json, figure: {save_figure(fig, out / 'kl_by_matched.png')}"
    )
