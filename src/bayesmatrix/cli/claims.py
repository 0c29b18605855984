"""Commands for the embedding and entropy claims: continuity (Theorem 1), entropy reduction
(Theorem 3), chain of thought, and the hallucination signal. Each runs per model, saves the
model's result as soon as it is done (a rerun loads it instead of recomputing), then draws one
figure across models and prints the verdicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bayesmatrix.cli import app, check_models, check_out_dir, console, print_verdicts
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.store import digest, text_digest

Models = Annotated[list[str], typer.Option("--model", help="model(s); repeat the option")]
Out = Annotated[Path, typer.Option(help="output directory (finished models are reused)")]
Force = Annotated[bool, typer.Option(help="recompute results saved there from other inputs")]


def per_model(
    models: list[str],
    out: Path,
    result_type: type,
    compute: Callable[[Any], Any],
    inputs: dict[str, Any],
    force: bool = False,
) -> list[Any]:
    """compute(lm) for each model unless out/<model> holds a finished result of exactly these
    inputs (and this model's identity); a folder holding other inputs' results is refused
    unless `force`."""
    from bayesmatrix import load
    from bayesmatrix.models.paths import model_identity
    from bayesmatrix.store import cached

    check_models(models)
    check_out_dir(out)
    results = []
    for name in models:
        where = out / name.replace("/", "__")
        key = {**inputs, "model": model_identity(name)}

        def run(name: str = name) -> Any:
            with console.status(f"{name}: computing"):
                return compute(load(name))

        results.append(cached(where, key, result_type.load, run, force))
    return results


def finish(results: list[Any], figure: Any, out: Path, name: str) -> None:
    from bayesmatrix.viz import save_figure

    path = save_figure(figure, out / f"{name}.png")
    print_verdicts([v for r in results for v in r.verdicts()])
    console.print(f"results: {out}/<model>/\nfigure:  {path}")


@app.command("continuity")
def continuity_cmd(
    model: Models = ["smollm2-135m"],  # noqa: B006
    layers: Annotated[
        str, typer.Option(help="comma list of hidden-state indices; -1 = last")
    ] = "-1",
    prompts: Annotated[int, typer.Option(help="positions perturbed / pairs interpolated")] = 48,
    bank: Annotated[int, typer.Option(help="neighbour bank size")] = 400,
    k: Annotated[int, typer.Option(help="neighbours averaged")] = 8,
    out: Out = Path("runs/continuity"),
    force: Force = False,
) -> None:
    """Theorem 1: rows against embedding perturbations, interpolation, and neighbours."""
    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.experiments.continuity import ContinuityResult, run_continuity
    from bayesmatrix.viz import plot_continuity

    try:
        chosen = [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise BayesmatrixError(f"--layers must be integers like -1,15, not {layers!r}") from None
    if not chosen:
        raise BayesmatrixError("--layers is empty; e.g. --layers -1")
    check_out_dir(out)
    text = stdlib_docs(max_chars=300_000)
    settings = {"claim": "continuity", "text": text_digest(text), "prompts": prompts}
    results = []
    for layer in chosen:
        results += per_model(
            model,
            out / f"layer{layer}",
            ContinuityResult,
            lambda lm, layer=layer: run_continuity(
                lm, text, layer, n_prompts=prompts, n_bank=bank, k=k
            ),
            {**settings, "layer": layer, "bank": bank, "k": k},
            force,
        )
    finish(results, plot_continuity(results), out, "continuity")


@app.command("entropy")
def entropy_cmd(
    model: Models = ["smollm2-135m"],  # noqa: B006
    task: Annotated[str, typer.Option(help="ICL task for the 'more examples' comparison")] = (
        "sentiment"
    ),
    facts: Annotated[Path | None, typer.Option(help="facts JSONL (default: shipped)")] = None,
    n: Annotated[int, typer.Option(help="comparisons per source")] = 60,
    out: Out = Path("runs/entropy"),
    force: Force = False,
) -> None:
    """Theorem 3: does entropy fall, and does the row majorize, as prompts get specific?"""
    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.experiments.entropy import EntropyResult, run_entropy
    from bayesmatrix.experiments.icl_tasks import get_task
    from bayesmatrix.experiments.questions import load_facts
    from bayesmatrix.viz import plot_entropy

    if n < 2:
        raise BayesmatrixError("--n must be at least 2")
    the_task, the_facts = get_task(task), load_facts(facts)
    text = stdlib_docs(max_chars=200_000)
    inputs = {
        "claim": "entropy",
        "text": text_digest(text),
        "task": the_task.digest,
        "facts": digest(the_facts),
        "n": n,
    }
    results = per_model(
        model,
        out,
        EntropyResult,
        lambda lm: run_entropy(lm, text, the_task, the_facts, n=n),
        inputs,
        force,
    )
    finish(results, plot_entropy(results), out, "entropy")


@app.command("cot")
def cot_cmd(
    model: Models = ["smollm2-135m"],  # noqa: B006
    problems: Annotated[Path | None, typer.Option(help="problems JSONL (default: shipped)")] = None,
    out: Out = Path("runs/cot"),
    force: Force = False,
) -> None:
    """Chain of thought: answer-row entropy and P(answer) with and without the steps."""
    from bayesmatrix.experiments.cot import CotResult, run_cot
    from bayesmatrix.experiments.questions import load_problems
    from bayesmatrix.viz import plot_cot

    the_problems = load_problems(problems)
    inputs = {"claim": "cot", "problems": digest(the_problems)}
    results = per_model(model, out, CotResult, lambda lm: run_cot(lm, the_problems), inputs, force)
    finish(results, plot_cot(results), out, "cot")


@app.command("hallucination")
def hallucination_cmd(
    model: Models = ["smollm2-135m"],  # noqa: B006
    facts: Annotated[Path | None, typer.Option(help="facts JSONL (default: shipped)")] = None,
    out: Out = Path("runs/hallucination"),
    force: Force = False,
) -> None:
    """Hallucination signal: AUROC of answer-row entropy and top-1 probability."""
    from bayesmatrix.experiments.hallucination import HallucinationResult, run_hallucination
    from bayesmatrix.experiments.questions import load_facts
    from bayesmatrix.viz import plot_hallucination

    the_facts = load_facts(facts)
    inputs = {"claim": "hallucination", "facts": digest(the_facts)}
    results = per_model(
        model,
        out,
        HallucinationResult,
        lambda lm: run_hallucination(lm, the_facts),
        inputs,
        force,
    )
    finish(results, plot_hallucination(results), out, "hallucination")
