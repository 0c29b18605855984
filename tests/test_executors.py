"""The Ray executor against the local one, on a real local Ray instance limited to this
machine's 2 CPUs: the same ICL cells, validation verdicts, wind-tunnel runs and index files;
a worker killed mid-sweep (SIGKILL by PID) is retried and no finished cell is redone."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.executor import LocalExecutor, RayExecutor
from bayesmatrix.experiments.icl.sweep import Condition, run_cell, run_sweep
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models.loading import Loader

pytestmark = pytest.mark.slow

CONDITIONS = [Condition("regular"), Condition("flipped")]


@pytest.fixture(scope="module")
def ray_executor():
    import ray

    # functions of this module travel by value: workers need not import the tests package
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayExecutor(num_cpus=2)
    executor.connect()
    yield executor
    ray.shutdown()


def cell4(lm, task, condition, seed):
    return run_cell(lm, task, condition, seed, 4)


def sweep(out: Path, seeds, executor, cell=cell4) -> pd.DataFrame:
    return run_sweep(
        ["smollm2-135m"],
        [get_task("sentiment")],
        CONDITIONS,
        seeds,
        out,
        Loader(),
        cell,
        kind="shots4",
        executor=executor,
    )


def assert_same_cells(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in ("p_true", "p_shown", "zero_shot_p_true", "label_mass", "entropy_bits"):
        # separate processes, same thread count: the same float32 kernels, the same numbers
        np.testing.assert_allclose(a[column], b[column], rtol=0, atol=1e-6)
    assert (a[["condition", "seed", "k", "input"]] == b[["condition", "seed", "k", "input"]]).all(
        axis=None
    )


def test_icl_sweep_on_ray_equals_local(ray_executor, tmp_path):
    local = sweep(tmp_path / "local", range(3), LocalExecutor())
    on_ray = sweep(tmp_path / "ray", range(3), ray_executor)
    assert_same_cells(local, on_ray)


def killed_once(flag_dir, lm, task, condition, seed):
    """Seed 1 of 'flipped' announces its worker's PID and waits to be killed, once."""
    flag = Path(flag_dir)
    if seed == 1 and condition.name == "flipped" and not (flag / "killed").exists():
        (flag / "pid.tmp").write_text(str(os.getpid()))
        os.replace(flag / "pid.tmp", flag / "pid")
        time.sleep(120)
    return cell4(lm, task, condition, seed)


def test_killed_worker_is_retried_and_finished_cells_are_kept(ray_executor, tmp_path):
    out = tmp_path / "sweep"
    sweep(out, [0], LocalExecutor())  # finished before the Ray sweep starts
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    assert len(before) == 2
    flag = tmp_path / "flag"
    flag.mkdir()

    def kill() -> None:
        deadline = time.time() + 300
        while not (flag / "pid").exists() and time.time() < deadline:
            time.sleep(0.2)
        pid = int((flag / "pid").read_text())
        (flag / "killed").touch()
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        frame = sweep(out, [0, 1, 2], ray_executor, partial(killed_once, str(flag)))
    finally:
        killer.join()
    assert (flag / "killed").exists()
    files = sorted(out.rglob("*.parquet"))
    assert len(files) == 6 and not list(out.rglob("*.tmp"))  # none missing, none doubled
    assert {p: before[p] for p in before} == {p: p.stat().st_mtime_ns for p in before}
    assert len(frame) == 6 * 4 and not frame.duplicated(["condition", "seed", "k"]).any()
    assert_same_cells(frame, sweep(tmp_path / "reference", [0, 1, 2], LocalExecutor()))


def test_validation_of_two_claims_on_ray_equals_local(ray_executor, tmp_path):
    from bayesmatrix.report import run_validation

    def verdicts(out: Path, executor) -> list[tuple]:
        sections = run_validation(
            ["smollm2-135m"], "test", out, Loader(), claims=["rows", "entropy"], executor=executor
        )
        return [(v.statement, v.status, v.evidence) for s in sections for v in s.verdicts]

    local = verdicts(tmp_path / "local", LocalExecutor())
    assert len(local) >= 2
    assert verdicts(tmp_path / "ray", ray_executor) == local


def test_windtunnel_runs_on_ray_equal_local(ray_executor, tmp_path):
    from bayesmatrix.windtunnel import make_task
    from bayesmatrix.windtunnel.result import compare_architectures

    task = make_task("dirichlet", vocab=4, alpha=1.0, length=8)

    def result(out: Path, executor):
        return compare_architectures(
            task,
            "dirichlet",
            ["transformer", "mlp"],
            20,
            out,
            n=200,
            seeds=(0, 1),
            executor=executor,
        )

    local = result(tmp_path / "local", LocalExecutor())
    on_ray = result(tmp_path / "ray", ray_executor)
    columns = ["arch", "seeds", "kl", "kl_lo", "kl_hi", "kl_min", "kl_max", "params", "steps"]
    pd.testing.assert_frame_equal(local.summary[columns], on_ray.summary[columns])
    pd.testing.assert_frame_equal(local.frame, on_ray.frame)
    assert set(local.summary["seeds"]) == {2}


def test_matrix_build_on_ray_writes_the_serial_files(ray_executor, tmp_path):
    from bayesmatrix.matrix import build
    from bayesmatrix.matrix.corpus import python_docs

    files = python_docs()[:80]
    _, serial = build(files, "smollm2-135m", tmp_path / "serial", shard_tokens=40_000)
    _, parallel = build(
        files, "smollm2-135m", tmp_path / "ray", shard_tokens=40_000, executor=ray_executor
    )
    names = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert len([n for n in names if n.startswith("sa-")]) >= 3  # several shards in parallel
    assert names == sorted(p.name for p in (tmp_path / "ray").iterdir())
    for name in names:
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    assert serial.tokens == parallel.tokens


def test_a_kept_model_is_loaded_once_through_nested_executors():
    """A validate job on a Ray worker keeps its model (Loader.kept); the claim's own local
    sweep inside it must reuse that model, not load it again nor evict it."""
    from bayesmatrix.executor import Job, release_models
    from tests.loaders import Counting

    loads = []
    kept = Counting(loads=loads).kept()
    first = kept("m")
    inner = LocalExecutor()
    inner.run([Job("cell", kept, ("m",))], lambda job, lm: loads.append(lm is first))
    assert loads == ["m", True] and kept("m") is first  # reused, and still kept afterwards
    release_models()


def test_an_atlas_on_ray_equals_local(ray_executor, tmp_path):
    from bayesmatrix.report.atlas import atlas

    models = ["learner:bayesian", "learner:recency"]

    def table(out: Path, executor) -> pd.DataFrame:
        frame = atlas(models, "test", out, claims=["icl"], executor=executor)
        return frame.drop(columns="interval")

    local = table(tmp_path / "local", LocalExecutor())
    assert len(local) >= 4
    pd.testing.assert_frame_equal(table(tmp_path / "ray", ray_executor), local)
