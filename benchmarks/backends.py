"""The served path against the in-process one, side by side in one run on the same SmolLM2
weights: the ICL sweep (sentiment, 3 conditions x 5 seeds, the prequential label
probabilities) at several shot counts in process (HF), over vLLM's OpenAI server at each rung
it answers (sequential and concurrent requests), and over vLLM's in-process engine; then
semantic entropy and sampled coin-flip paths over the server against in process.

Prints wall times, the ratio to in-process, requests sent, and the largest difference in the
readings; for the sampling claims, their statistics with intervals (the same seeds cannot
give the same samples across backends, so they are compared in distribution).
The server and engine get both cores (OMP_NUM_THREADS=2), as the HF path has them; vLLM
alone would drop to one thread for serving.
Run: .venv/bin/python benchmarks/backends.py [--shots 8 16 32] [--no-engine]
     (needs .venv-vllm: `make vllm`; about 30 minutes here)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
from icl_single_pass import sweep_cells  # this folder is on sys.path when run as a script

import bayesmatrix
from bayesmatrix.data.qa import load_facts
from bayesmatrix.experiments.icl.paths import LMSampler, cell_tests, run_paths
from bayesmatrix.experiments.icl.sweep import prequential_label_probs
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.experiments.semantic_entropy import run_semantic_entropy
from bayesmatrix.models.paths import gguf_cache_dir, resolve

VLLM_PYTHON = Path(__file__).parents[1] / ".venv-vllm" / "bin" / "python"
THREADS = {"OMP_NUM_THREADS": "2", "VLLM_CPU_KVCACHE_SPACE": "1"}
PER_PROMPT_UP_TO = 8  # the per-prompt rung grows with shots squared: measured up to here
SEQUENTIAL_AT = 16  # shots at which sequential requests are measured beside concurrent ones


def start_server(weights: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        *(str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(weights)),
        *("--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port)),
        *("--max-logprobs", "-1", "--dtype", "float32", "--max-model-len", "4096"),
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **THREADS}, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(2)
    raise SystemExit("vLLM did not start")


def counting(lm: object) -> list[int]:
    """Count the requests a served model sends."""
    calls = [0]
    post = lm._post  # type: ignore[attr-defined]

    def counted(path: str, body: dict) -> dict:
        calls[0] += 1
        return post(path, body)

    lm._post = counted  # type: ignore[attr-defined]
    return calls


def sweep(lm: object, cells: list) -> tuple[list[np.ndarray], float]:
    columns = [f"p_{y}" for y in get_task("sentiment").labels]
    start = time.perf_counter()
    out = [prequential_label_probs(lm, d, w)[columns].to_numpy() for d, w in cells]  # type: ignore[arg-type]
    return out, time.perf_counter() - start


def compare_sweeps(hf: object, served: dict[str, object], shots: list[int]) -> None:
    print("ICL sweep, sentiment, 3 conditions x 5 seeds (15 contexts), label probabilities:")
    print(f"  {'shots':>5}  {'backend / rung':<34} {'seconds':>8} {'x in-process':>12} "
          f"{'requests':>9} {'max |diff|':>10}")  # fmt: skip
    for n in shots:
        cells = sweep_cells(n)
        reference, base = sweep(hf, cells)
        print(f"  {n:>5}  {'in process (HF)':<34} {base:8.1f} {1:12.1f} {'-':>9} {'-':>10}")
        for name, lm in served.items():
            limits = lm.limits  # type: ignore[attr-defined]
            plans = [(limits.rungs[0], limits.concurrency)]
            if name == "server":  # the engine reads as the server does, without HTTP
                if n == SEQUENTIAL_AT:
                    plans.append((limits.rungs[0], 1))
                plans += [(r, limits.concurrency) for r in limits.rungs[1:]]
            for rung, concurrency in plans:
                if rung == "per-prompt" and n > PER_PROMPT_UP_TO:
                    skipped = f"(not run above {PER_PROMPT_UP_TO} shots)"
                    print(f"  {n:>5}  {name + ' ' + rung:<34} {skipped}")
                    continue
                lm.limits = replace(limits, rungs=(rung,), concurrency=concurrency)  # type: ignore[attr-defined]
                calls = counting(lm)
                values, seconds = sweep(lm, cells)
                del lm._post  # type: ignore[attr-defined]  # the class's own again
                diff = max(
                    float(np.abs(a - b).max()) for a, b in zip(values, reference, strict=True)
                )
                label = f"{name} {rung}"
                if name == "server":
                    label += f" x{concurrency}" if concurrency > 1 else " sequential"
                print(f"  {n:>5}  {label:<34} {seconds:8.1f} {seconds / base:12.1f} "
                      f"{calls[0]:>9} {diff:10.1e}")  # fmt: skip
            lm.limits = limits  # type: ignore[attr-defined]


def interval(
    values: np.ndarray, seed: int = 0, resamples: int = 2000
) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (resamples, len(values))).mean(axis=1)
    return float(values.mean()), *np.quantile(means, [0.025, 0.975])


def compare_sampling(hf: object, server: object) -> None:
    facts = load_facts()[:12]
    print("semantic entropy, 12 questions x 2 (with/without the fact), 10 samples of <= 12 tokens:")
    frames = {}
    for name, lm in (("in process", hf), ("server", server)):
        start = time.perf_counter()
        frames[name] = run_semantic_entropy(lm, facts, samples=10, max_new_tokens=12).frame  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        stats = [
            (column, interval(frames[name][column].to_numpy(dtype=float)))
            for column in ("semantic_entropy", "naive_entropy", "clusters")
        ]
        text = "; ".join(f"{c} {m:.3f} [{lo:.3f}, {hi:.3f}]" for c, (m, lo, hi) in stats)
        print(f"  {name:<10} {seconds:6.1f} s  mean over answers: {text}")
    same = (frames["in process"]["greedy"] == frames["server"]["greedy"]).mean()
    print(f"  greedy answers identical in {same:.0%} of questions (temperature 0: deterministic)")
    print("martingale paths: bias 0.5, n = 8 and 16, 40 paths of 12 sampled flips:")
    for name, lm in (("in process", hf), ("server", server)):
        start = time.perf_counter()
        paths = run_paths(LMSampler(lm), name, [0.5], [8, 16], [0], 40, 12)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        tests = cell_tests(paths)
        pairs = zip(tests["drift"], tests["drift_se2"], strict=True)
        drift = ", ".join(f"{d:+.3f} (se {np.sqrt(v):.3f})" for d, v in pairs)
        print(f"  {name:<10} {seconds:6.1f} s  drift E[p_n+m] - p_n by n: {drift}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--no-engine", action="store_true")
    args = parser.parse_args()
    os.environ.update(THREADS)
    weights = gguf_cache_dir(resolve("smollm2-135m")[1])
    hf = bayesmatrix.load("smollm2-135m")
    proc, url = start_server(weights)
    served: dict[str, object] = {}
    try:
        served["server"] = bayesmatrix.load(url + "?model=smollm2")
        if not args.no_engine:
            os.environ.setdefault("BAYESMATRIX_VLLM_PYTHON", str(VLLM_PYTHON))
            served["engine"] = bayesmatrix.load(f"vllm:{weights}")
        for name, lm in served.items():
            print(f"{name}: rungs answered {', '.join(lm.limits.rungs)}")  # type: ignore[attr-defined]
        compare_sweeps(hf, served, args.shots)
        compare_sampling(hf, served["server"])
    finally:
        if "engine" in served:
            served["engine"].close()  # type: ignore[attr-defined]
        os.killpg(proc.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
