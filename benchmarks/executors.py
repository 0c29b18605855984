"""The same ICL sweep with the local executor and with Ray on this machine's CPUs, side by side:
wall time, speed-up, the cost of a cell and of a model load, and Ray's overhead per cell.

Sweep: 2 models (smollm2-135m, gemma3-270m) x 3 conditions (regular, flipped, sul) x 6 seeds,
32 shots on the sentiment task (36 cells). Local: one process, cells in order, torch on all
CPUs. Ray: a local instance with one CPU per task (so 2 cells at a time here), each worker
loading a model once. Both write the same cells (checked).
Run: .venv/bin/python benchmarks/executors.py [--seeds 6] [--shots 32] [--out runs/bench-exec]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmatrix.executor import LocalExecutor, RayExecutor
from bayesmatrix.experiments.icl.sweep import Condition, run_cell, run_sweep
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models.loading import Loader

MODELS = ["smollm2-135m", "gemma3-270m"]


def timed_cell(shots: int):
    """run_cell that also records, in the frame, the seconds the cell itself took."""

    def cell(lm, task, condition, seed) -> pd.DataFrame:
        start = time.perf_counter()
        frame = run_cell(lm, task, condition, seed, shots)
        return frame.assign(cell_seconds=time.perf_counter() - start, pid=os.getpid())

    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--shots", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-exec"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    conditions = [Condition("regular"), Condition("flipped"), Condition("sul")]
    task = get_task("sentiment")
    loads = {}
    for name in MODELS:  # load time, measured on its own (the fixed cost per worker)
        start = time.perf_counter()
        Loader()(name)
        loads[name] = time.perf_counter() - start

    def sweep(where: str, executor) -> tuple[float, pd.DataFrame]:
        start = time.perf_counter()
        frame = run_sweep(
            MODELS,
            [task],
            conditions,
            range(args.seeds),
            args.out / where,
            Loader(),
            timed_cell(args.shots),
            kind=f"shots{args.shots}",
            executor=executor,
        )
        return time.perf_counter() - start, frame

    wall_local, local = sweep("local", LocalExecutor())
    ray = RayExecutor()
    start = time.perf_counter()
    ray.connect()
    ray_start = time.perf_counter() - start
    wall_ray, on_ray = sweep("ray", ray)

    cells = len(MODELS) * len(conditions) * args.seeds
    cpus = os.cpu_count() or 1
    per_cell = local.groupby(["model", "condition", "seed"])["cell_seconds"].first()
    ray_cell = on_ray.groupby(["model", "condition", "seed"])["cell_seconds"].first()
    workers = on_ray["pid"].nunique()
    diff = float(np.abs(local["p_true"].to_numpy() - on_ray["p_true"].to_numpy()).max())
    print(
        f"sweep: {len(MODELS)} models x {len(conditions)} conditions x {args.seeds} seeds = "
        f"{cells} cells of {args.shots} shots; {cpus} CPUs"
    )
    print("model load (once per worker): " + ", ".join(f"{m} {s:.1f} s" for m, s in loads.items()))
    for name, group in per_cell.groupby(level="model"):
        print(
            f"cell time, local ({name}): median {statistics.median(group):.2f} s; on Ray, one "
            f"thread per worker: median {statistics.median(ray_cell.loc[name]):.2f} s"
        )
    print(f"local executor: wall {wall_local:.1f} s")
    print(
        f"ray executor:   wall {wall_ray:.1f} s on {workers} worker processes "
        f"(Ray start-up {ray_start:.1f} s, not counted); speed-up local / ray = "
        f"{wall_local / wall_ray:.2f}x"
    )
    busy = float(ray_cell.sum()) + sum(loads.values()) * workers / len(MODELS)
    overhead = (wall_ray - busy / cpus) / cells
    print(
        f"Ray overhead: {overhead * 1e3:.0f} ms per cell (wall minus cell and load time spread "
        f"over {cpus} CPUs); max |p_true difference| local vs ray = {diff:.1e}"
    )
    mean_cell = float(ray_cell.mean())
    print(
        "projection for N nodes of c CPUs (cells are independent; each worker loads each model "
        f"it serves once): wall ~ load + cells x {mean_cell:.2f} s / (N x c) + "
        f"{max(overhead, 0) * 1e3:.0f} ms x cells / (N x c); e.g. 10,000 cells on 8 nodes x 16 "
        f"CPUs ~ {(max(loads.values()) + 10_000 * (mean_cell + max(overhead, 0)) / 128) / 60:.1f} "
        "min"
    )


if __name__ == "__main__":
    main()
