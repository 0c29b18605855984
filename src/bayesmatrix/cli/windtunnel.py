"""`bayesmatrix windtunnel run`: train small models where the exact posterior is known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bayesmatrix.cli import app, check_out_dir, console, err
from bayesmatrix.errors import BayesmatrixError

wt_app = typer.Typer(
    help="Bayesian wind tunnels: exact posteriors, trained models, gaps in bits.",
    no_args_is_help=True,
)
app.add_typer(wt_app, name="windtunnel")


@wt_app.command("run")
def run_cmd(
    task: Annotated[str, typer.Option(help="dirichlet | markov | bijection | hmm")] = "dirichlet",
    arch: Annotated[str, typer.Option(help="comma list: transformer,lstm,mlp")] = (
        "transformer,lstm,mlp"
    ),
    v: Annotated[int, typer.Option("--V", "-V", help="vocabulary (keys for bijection)")] = 8,
    length: Annotated[int, typer.Option(help="sequence length (not for bijection)")] = 32,
    alpha: Annotated[float, typer.Option(help="Dirichlet alpha of each category")] = 1.0,
    minutes: Annotated[float, typer.Option(help="training time budget per architecture")] = 15.0,
    steps: Annotated[int, typer.Option(help="step cap (reproducible whatever the load)")] = (
        1_000_000
    ),
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    out: Annotated[Path, typer.Option(help="output directory (training resumes)")] = Path(
        "runs/windtunnel"
    ),
    force: Annotated[
        bool, typer.Option(help="restart training saved there with other settings")
    ] = False,
) -> None:
    """Train each architecture on fresh samples, then score it against the exact posterior."""
    from rich.progress import Progress

    from bayesmatrix.viz import save_figure
    from bayesmatrix.viz.windtunnel_plot import plot_kl_by_position, plot_sequence
    from bayesmatrix.windtunnel import make_task
    from bayesmatrix.windtunnel.evaluate import evaluate, model_predictive
    from bayesmatrix.windtunnel.nets import ARCHS
    from bayesmatrix.windtunnel.train import BATCH, check_memory, train

    archs = [a.strip() for a in arch.split(",") if a.strip()]
    bad = [a for a in archs if a not in ARCHS]
    if bad or not archs:
        raise BayesmatrixError(f"unknown architecture(s) {bad}; choose from {', '.join(ARCHS)}")
    if minutes <= 0 or steps < 1:
        raise BayesmatrixError("--minutes must be positive and --steps at least 1")
    check_out_dir(out)
    settings: dict[str, object] = {"vocab": v, "length": length, "alpha": alpha}
    if task == "bijection":
        settings = {"keys": v}
    elif task == "hmm":
        settings = {"vocab": v, "length": length}
    the_task = make_task(task, **settings)
    check_memory(the_task, BATCH)  # before any model is built
    frames, models = {}, {}
    table = Table("arch", "params", "steps", "train s", "mean KL bits", "mean |entropy gap| bits")
    for name in archs:
        where = out / task / name
        with Progress(console=err, transient=True) as progress:
            bar = progress.add_task(f"{name}", total=None)
            model, log = train(
                the_task,
                name,
                where,
                minutes=minutes,
                max_steps=steps,
                seed=seed,
                force=force,
                progress=lambda step, loss, bar=bar, name=name: progress.update(
                    bar, description=f"{name} step {step} loss {loss:.4f}"
                ),
            )
        frame = evaluate(model, the_task)
        frame.to_parquet(where / "gaps.parquet", index=False)
        if name == "transformer":
            model.save(where / "model")
        frames[name], models[name] = frame, model
        table.add_row(
            name,
            str(log.params),
            str(log.steps),
            f"{log.seconds:.0f}",
            f"{frame['kl_bits'].mean():.5f}",
            f"{frame['entropy_gap_bits'].mean():.5f}",
        )
    console.print(table)
    summary = {
        a: {
            "kl_bits": float(f["kl_bits"].mean()),
            "entropy_gap_bits": float(f["entropy_gap_bits"].mean()),
        }
        for a, f in frames.items()
    }
    (out / task / "summary.json").write_text(json.dumps(summary, indent=1))
    x = the_task.sample(1, seed=99)
    exact = the_task.predictive(x)[0]
    preds = {a: model_predictive(m, x, the_task.vocab)[0] for a, m in models.items()}
    figures = [
        save_figure(plot_kl_by_position(frames, task), out / task / "kl_by_position.png"),
        save_figure(plot_sequence(x[0], exact, preds, task), out / task / "sequence.png"),
    ]
    console.print(f"results: {out / task}/summary.json\nfigures: " + ", ".join(map(str, figures)))
