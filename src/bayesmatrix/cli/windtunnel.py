"""`bayesmatrix windtunnel run`: train small models where the exact posterior is known."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bayesmatrix.cli import (
    ExecutorName,
    RayAddress,
    app,
    console,
    distinct,
    executor,
    finite_float,
    output_dir,
)
from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    import pandas as pd

    from bayesmatrix.windtunnel.curve import CurveFit
    from bayesmatrix.windtunnel.tasks import Task

wt_app = typer.Typer(
    help="Bayesian wind tunnels: exact posteriors, trained models, gaps in bits.",
    no_args_is_help=True,
)
app.add_typer(wt_app, name="windtunnel")


@wt_app.command("run")
def run_cmd(
    task: Annotated[
        str,
        typer.Option(help="dirichlet | markov | bijection | bijection-peer | hmm | hmm-incontext"),
    ] = "dirichlet",
    arch: Annotated[str, typer.Option(help="comma list: transformer,lstm,mlp,mamba")] = (
        "transformer,lstm,mlp"
    ),
    v: Annotated[int, typer.Option("--V", "-V", help="vocabulary (keys for bijection)")] = 8,
    length: Annotated[int, typer.Option(help="sequence length (not for bijection)")] = 32,
    pairs: Annotated[
        int | None, typer.Option(help="bijection-peer: key-value pairs shown (default V - 1)")
    ] = None,
    states: Annotated[
        int | None, typer.Option(help="hmm: hidden states (default 3; hmm-incontext: 5)")
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="Dirichlet alpha of each category", parser=finite_float)
    ] = 1.0,
    minutes: Annotated[
        float, typer.Option(help="training time budget per run", parser=finite_float)
    ] = 15.0,
    steps: Annotated[int, typer.Option(help="step cap (reproducible whatever the load)")] = (
        1_000_000
    ),
    seed: Annotated[int, typer.Option(help="first training seed")] = 0,
    seeds: Annotated[
        int, typer.Option(help="training seeds per architecture (seed, seed+1, ...)")
    ] = 1,
    out: Annotated[Path, typer.Option(help="output directory (training resumes)")] = Path(
        "runs/windtunnel"
    ),
    force: Annotated[
        bool, typer.Option(help="restart training saved there with other settings")
    ] = False,
    executor_name: ExecutorName = "local",
    ray_address: RayAddress = None,
) -> None:
    """Train each architecture on fresh samples, then score it against the exact posterior.
    With --seeds N each architecture is trained N times and the table shows the spread."""
    from bayesmatrix.cli.progress import progress
    from bayesmatrix.results.io import write_json
    from bayesmatrix.viz import save_figure
    from bayesmatrix.viz.windtunnel_plot import (
        plot_kl_by_position,
        plot_sequence,
        plot_training_curve,
    )
    from bayesmatrix.windtunnel.nets import ARCHS
    from bayesmatrix.windtunnel.result import (
        PEER_METRICS,
        PEER_TARGETS,
        summarise_runs,
        train_runs,
    )
    from bayesmatrix.windtunnel.train import BATCH, EVAL_SEQUENCES, check_memory

    archs = distinct([a.strip() for a in arch.split(",") if a.strip()], "--arch")
    bad = [a for a in archs if a not in ARCHS]
    if bad or not archs:
        raise BayesmatrixError(f"unknown architecture(s) {bad}; choose from {', '.join(ARCHS)}")
    if minutes <= 0 or steps < 1 or seeds < 1 or seed < 0:
        raise BayesmatrixError(
            "--minutes must be positive, --steps and --seeds at least 1, --seed at least 0"
        )
    the_task = _task(task, v, length, alpha, pairs, states)
    check_memory(the_task, BATCH)  # before any model is built
    runner = executor(executor_name, ray_address)
    output_dir(out)
    runs = len(archs) * seeds
    with progress(f"{runs} training runs ({runner.name})", runs) as update:
        done = train_runs(
            the_task,
            archs,
            steps,
            out / task,
            force,
            n=EVAL_SEQUENCES,
            seeds=range(seed, seed + seeds),
            minutes=minutes,
            executor=runner,
            progress=update,
        )
    result = summarise_runs(task, steps, done)
    firsts = {a: done[(a, seed)]["first"] for a in archs}
    table = Table(
        "arch", "params", "seeds", "steps", "train s", "mean KL bits", "interval", "runs' range"
    )
    for _, row in result.summary.iterrows():
        table.add_row(
            row["arch"],
            str(int(row["params"])),
            str(int(row["seeds"])),
            str(int(row["steps"])),
            f"{row['seconds']:.0f}",
            f"{row['kl']:.5f}",
            f"[{row['kl_lo']:.5f}, {row['kl_hi']:.5f}]",
            f"{row['kl_min']:.5f} to {row['kl_max']:.5f}",
        )
    console.print(table)
    peer = "authors_bits" in result.summary
    if peer:
        stats = Table("arch", "authors statistic (bits)", "ours: mean |dH| (bits)", "KL scored")
        for _, row in result.summary.iterrows():
            stats.add_row(
                row["arch"],
                f"{row['authors_bits']:.4f} [{row['authors_bits_lo']:.4f}, "
                f"{row['authors_bits_hi']:.4f}]",
                f"{row['ours_bits']:.4f} [{row['ours_bits_lo']:.4f}, {row['ours_bits_hi']:.4f}]",
                f"{row['kl_scored_bits']:.4f}",
            )
        console.print(stats)
    if "transformer" in archs:
        for verdict in result.verdicts():
            console.print(str(verdict), markup=False, highlight=False)
    result.save(out / task / "result")
    frames = result.frames()
    summary = {
        a: {
            "kl_bits": float(f["kl_bits"].mean()),
            "entropy_gap_bits": float(f["entropy_gap_bits"].mean()),
        }
        for a, f in frames.items()
    }
    if peer:
        for _, row in result.summary.iterrows():
            summary[row["arch"]] |= {m: float(row[m]) for m in PEER_METRICS}
    write_json(out / task / "summary.json", summary)
    x = the_task.sample(EVAL_SEQUENCES, seed=10_000)[:1]
    exact = the_task.predictive(x)[0]
    curves = {  # every run's training curve, the first seed's under the architecture's name
        a if s == seed else f"{a} (seed {s})": run["curve"]
        for (a, s), run in done.items()
        if len(run["curve"])
    }
    target = PEER_TARGETS.get(task, (None,))[0]
    fit = _curve_account(curves.get("transformer"), target, done)
    figures = [
        save_figure(plot_kl_by_position(frames, task), out / task / "kl_by_position.png"),
        save_figure(plot_sequence(x[0], exact, firsts, task), out / task / "sequence.png"),
    ]
    if curves:
        figure = plot_training_curve(curves, task, fit, target)
        figures.append(save_figure(figure, out / task / "training_curve.png"))
    console.print(f"results: {out / task}/summary.json\nfigures: " + ", ".join(map(str, figures)))


def _curve_account(curve: pd.DataFrame | None, target: float | None, done: dict) -> CurveFit | None:
    """For a soft-target task with a published figure: print the rate at which the
    transformer's KL fell over the second half of its training curve and, at that rate, the
    steps and CPU time the target would take. Returns the fit (None when there is none)."""
    from bayesmatrix.windtunnel.curve import fit_curve

    if curve is None or target is None or not curve["kl_bits"].notna().any():
        return None
    try:
        fit = fit_curve(curve)
    except BayesmatrixError:
        return None
    steps, fast, slow = fit.steps_to(target)
    run = next(v for (arch, _), v in done.items() if arch == "transformer")
    per_step = run["seconds"] / max(run["steps"], 1)
    console.print(
        f"training curve, steps {fit.first_step}-{fit.last_step}: KL at the trained positions "
        f"~ step^-{fit.exponent:.2f} [{fit.exponent_lo:.2f}, {fit.exponent_hi:.2f}] "
        f"(R^2 {fit.r2:.2f}); at that rate {target:g} bits takes ~{steps:.3g} steps "
        f"[{fast:.3g}, {slow:.3g}], ~{steps * per_step / 3600:.3g} CPU-hours at this run's "
        "speed (hopeful: part of the late drop is the learning-rate decay)",
        markup=False,
        highlight=False,
    )
    return fit


def _task(
    task: str, v: int, length: int, alpha: float, pairs: int | None, states: int | None = None
) -> Any:
    """The wind-tunnel task the options name (each task takes its own settings; for
    hmm-incontext --V is the number of symbols and --length the number of observations)."""
    from bayesmatrix.windtunnel import make_task

    if alpha <= 0:
        raise BayesmatrixError(f"--alpha must be positive, not {alpha}")
    if states is not None and states < 2:
        raise BayesmatrixError(f"--states must be at least 2, not {states}")
    settings: dict[str, Any] = {"vocab": v, "length": length, "alpha": alpha}
    if task == "bijection":
        settings = {"keys": v}
    elif task == "bijection-peer":
        settings = {"keys": v, "pairs": v - 1 if pairs is None else pairs}
    elif task == "hmm":
        settings = {"vocab": v, "length": length} | ({"states": states} if states else {})
    elif task == "hmm-incontext":
        settings = {"symbols": v, "steps": length, "states": 5 if states is None else states}
    return make_task(task, **settings)


@wt_app.command("geometry")
def geometry_cmd(
    task: Annotated[
        str, typer.Option(help="the task the model was trained on (as for `run`)")
    ] = "bijection-peer",
    v: Annotated[int, typer.Option("--V", "-V", help="vocabulary (keys for bijection)")] = 20,
    length: Annotated[int, typer.Option(help="sequence length (not for bijection)")] = 32,
    alpha: Annotated[
        float, typer.Option(help="Dirichlet alpha of each category", parser=finite_float)
    ] = 1.0,
    pairs: Annotated[int | None, typer.Option(help="bijection-peer: pairs (default V - 1)")] = None,
    states: Annotated[int | None, typer.Option(help="hmm / hmm-incontext: hidden states")] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="a trained transformer folder (default <out>/<task>/transformer/model)"),
    ] = None,
    n: Annotated[int, typer.Option(help="fresh test sequences")] = 400,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples")] = 1000,
    out: Annotated[Path, typer.Option(help="the `run` output directory")] = Path("runs/windtunnel"),
) -> None:
    """The entropy axis of a trained wind-tunnel transformer: PC1 of its last-layer states
    against the exact posterior entropy, and PC1 projected out (Papers I and III)."""
    from bayesmatrix.bayes.stats import check_bootstrap
    from bayesmatrix.experiments.geometry import run_windtunnel_geometry
    from bayesmatrix.models import load
    from bayesmatrix.viz import plot_geometry, save_figure

    if n < 3:
        raise BayesmatrixError("--n must be at least 3")
    check_bootstrap(bootstrap, 0.002 * n)
    the_task = _task(task, v, length, alpha, pairs, states)
    folder = model or out / task / "transformer" / "model"
    if not (folder / "config.json").is_file():
        raise BayesmatrixError(
            f"no trained transformer in {folder}; run `bayesmatrix windtunnel run --task {task} "
            "--arch transformer` first, or pass --model"
        )
    check_trained_on(folder, the_task, task)
    output_dir(out)
    name = f"{task} transformer ({folder})"
    result = run_windtunnel_geometry(load(str(folder)), the_task, n, bootstrap, name=name)
    where = out / task / "geometry"
    result.save(where)
    for verdict in result.verdicts():
        console.print(str(verdict), markup=False, highlight=False)
    figure = save_figure(plot_geometry([result]), where / "geometry.png")
    console.print(f"results: {where}\nfigure: {figure}")


def check_trained_on(folder: Path, task: Task, name: str) -> None:
    """Refuse a model trained on another task or other settings: its states would be read
    against the wrong exact posterior. The run's marker (beside the model folder) names the
    task it trained on; without one, the vocabulary is checked."""
    import json

    from bayesmatrix.results.store import digest, read_marker

    marker = read_marker(folder.parent)
    trained = (marker or {}).get("inputs", {})
    settings = "pass the --task, --V, --length, --pairs and --states of its run"
    if "spec" in trained:
        if (trained.get("task"), trained["spec"]) != (type(task).__name__, digest(task)):
            raise BayesmatrixError(
                f"the model in {folder} was trained on another task or other settings than "
                f"--task {name} with these options; {settings}"
            )
        return
    config = json.loads((folder / "config.json").read_text())
    vocab = int(config.get("vocab_size", -1)) - 1
    if vocab != task.vocab:
        raise BayesmatrixError(
            f"the model in {folder} has a vocabulary of {vocab} symbols, the task "
            f"{name} with these options has {task.vocab}; {settings}"
        )
