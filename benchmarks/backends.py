"""The served path against the in-process one, side by side in one run on the same SmolLM2
weights: the ICL sweep (sentiment, 3 conditions x 5 seeds, run_cell per cell as `bayesmatrix
icl` runs it) at several shot counts in process (HF), over vLLM's OpenAI server at each rung
it answers (sequential and concurrent requests), and over vLLM's in-process engine; then
semantic entropy and sampled coin-flip paths over the server against in process.

Prints wall times, the ratio to in-process, requests sent, and the largest difference in the
readings; for the sampling claims, their statistics with intervals (the same seeds cannot
give the same samples across backends, so they are compared in distribution).
The server and engine get both cores (OMP_NUM_THREADS=2), as the HF path has them; vLLM
alone would drop to one thread for serving.
Run: .venv/bin/python benchmarks/backends.py [--shots 8 16 32] [--no-engine] [--no-sampling]
     [--pass-only] [--paths-only]
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
from bayesmatrix.experiments.icl.sweep import Condition, prequential_label_probs, run_cell
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.experiments.semantic_entropy import run_semantic_entropy
from bayesmatrix.models.reference import converted_folder
from bayesmatrix.models.vllm_worker import CPU_BLOCK

VLLM_PYTHON = Path(__file__).parents[1] / ".venv-vllm" / "bin" / "python"
THREADS = {"OMP_NUM_THREADS": "2", "VLLM_CPU_KVCACHE_SPACE": "1"}
PER_PROMPT_UP_TO = 8  # the per-prompt rung grows with shots squared: measured up to here
SEQUENTIAL_AT = 16  # shots at which sequential requests are measured beside concurrent ones
CONDITIONS = ("regular", "flipped", "sul")
SEEDS = 5


def start_server(weights: Path, block_size: int | None = CPU_BLOCK) -> tuple[subprocess.Popen, str]:
    """vLLM's OpenAI server on a free port; `block_size` None keeps vLLM's default (128 on
    CPU, under which prompts shorter than a block never hit the prefix cache)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        *(str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(weights)),
        *("--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port)),
        *("--max-logprobs", "-1", "--dtype", "float32", "--max-model-len", "4096"),
        *(() if block_size is None else ("--block-size", str(block_size))),
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


def sweep(lm: object, shots: int, whole: bool = True) -> tuple[list[np.ndarray], float]:
    """The ICL sweep as `bayesmatrix icl` runs it: run_cell per (condition, seed), i.e. the
    demonstrations' pass and one zero-shot prompt per input; the label probabilities read.
    whole=False: the demonstrations' pass alone (the measure of 0.4.0's figures)."""
    task = get_task("sentiment")
    columns = [f"p_{y}" for y in task.labels]
    start = time.perf_counter()
    out = []
    if not whole:
        for demos, words in sweep_cells(shots, SEEDS):
            out.append(prequential_label_probs(lm, demos, words)[columns].to_numpy())  # type: ignore[arg-type]
        return out, time.perf_counter() - start
    for name in CONDITIONS:
        for seed in range(SEEDS):
            cell = run_cell(lm, task, Condition(name), seed, shots)  # type: ignore[arg-type]
            out.append(cell[["p_true", "zero_shot_p_true"]].to_numpy())
    return out, time.perf_counter() - start


def served_sweeps(name: str, lm: object, shots: list[int], base: dict, whole: bool) -> None:
    """The sweep over one served backend at each rung (and sequential beside concurrent)."""
    limits = lm.limits  # type: ignore[attr-defined]
    for n in shots:
        reference, seconds_hf = base[n]
        plans = [(limits.rungs[0], limits.concurrency)]
        if name == "server":  # the engine reads as the server does, without HTTP
            if n == SEQUENTIAL_AT:
                plans.append((limits.rungs[0], 1))
            plans += [(r, limits.concurrency) for r in limits.rungs[1:]]
        for rung, concurrency in plans:
            label = f"{name} {rung}"
            if name == "server":
                label += f" x{concurrency}" if concurrency > 1 else " sequential"
            if rung == "per-prompt" and n > PER_PROMPT_UP_TO:
                print(f"  {n:>5}  {label:<34} (not run above {PER_PROMPT_UP_TO} shots)")
                continue
            rest = tuple(r for r in limits.rungs if r != rung)  # top-k's misses use the next
            lm.limits = replace(limits, rungs=(rung, *rest), concurrency=concurrency)  # type: ignore[attr-defined]
            calls = counting(lm)
            values, seconds = sweep(lm, n, whole)
            del lm._post  # type: ignore[attr-defined]  # the class's own again
            diff = max(float(np.abs(a - b).max()) for a, b in zip(values, reference, strict=True))
            print(f"  {n:>5}  {label:<34} {seconds:8.1f} {seconds / seconds_hf:12.1f} "
                  f"{calls[0]:>9} {diff:10.1e}", flush=True)  # fmt: skip
    lm.limits = limits  # type: ignore[attr-defined]


def interval(
    values: np.ndarray, seed: int = 0, resamples: int = 2000
) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (resamples, len(values))).mean(axis=1)
    return float(values.mean()), *np.quantile(means, [0.025, 0.975])


def compare_sampling(hf: object, server: object) -> None:
    """Semantic entropy and sampled paths over the server against in process (the vLLM
    server stays up meanwhile, so the in-process times here are not comparable)."""
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
        paths = run_paths(LMSampler(lm), name, *PATHS)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        tests = cell_tests(paths)
        pairs = zip(tests["drift"], tests["drift_se2"], strict=True)
        drift = ", ".join(f"{d:+.3f} (se {np.sqrt(v):.3f})" for d, v in pairs)
        print(f"  {name:<10} {seconds:6.1f} s  drift E[p_n+m] - p_n by n: {drift}")


PATHS = ([0.5], [8, 16], [0], 40, 12)  # bias, n, seeds, paths, flips: as compare_sampling


def paths_seconds(lm: object, name: str) -> float:
    start = time.perf_counter()
    run_paths(LMSampler(lm), name, *PATHS)  # type: ignore[arg-type]
    return time.perf_counter() - start


def compare_paths_block_size(weights: Path, hf: object) -> None:
    """Sampled coin-flip paths in process, then over a server with vLLM's CPU default KV
    block (128 tokens) and with 32-token blocks, each server alone on the machine."""
    print("sampled coin-flip paths (bias 0.5, n = 8 and 16, 40 paths of 12 flips; one request")
    print("per step for all paths, each prompt ~40-90 tokens), each backend alone:")
    alone = paths_seconds(hf, "in process")
    print(f"  {'in process (HF)':<32} {alone:6.1f} s")
    blocks: list[tuple[str, int | None]] = [("server, default block (128)", None)]
    blocks.append((f"server, --block-size {CPU_BLOCK}", CPU_BLOCK))
    for label, size in blocks:
        proc, url = start_server(weights, size)
        try:
            lm = bayesmatrix.load(url + "?model=smollm2")
            paths_seconds(lm, "warm-up")
            seconds = paths_seconds(lm, label)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        print(f"  {label:<32} {seconds:6.1f} s  {seconds / alone:5.1f}x in process")
    again = paths_seconds(hf, "in process")
    print(f"  {'in process (HF), again':<32} {again:6.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--no-engine", action="store_true")
    parser.add_argument("--no-sampling", action="store_true")
    parser.add_argument(
        "--pass-only", action="store_true", help="the demonstrations' pass alone (no zero-shot)"
    )
    parser.add_argument(
        "--paths-only", action="store_true", help="sampled paths alone, by the server's KV block"
    )
    args = parser.parse_args()
    weights = converted_folder("smollm2-135m")
    hf = bayesmatrix.load("smollm2-135m")
    if args.paths_only:
        compare_paths_block_size(weights, hf)
        return
    # in process first, with no vLLM process alive (an idle vLLM engine still takes CPU)
    whole = not args.pass_only
    base = {n: sweep(hf, n, whole) for n in args.shots}
    if whole:
        print("ICL sweep as `bayesmatrix icl` runs it: sentiment, 3 conditions x 5 seeds, run_cell")
        print("per cell (the demonstrations' pass and one zero-shot prompt per input);")
    else:
        print("ICL sweep, the demonstrations' pass alone: sentiment, 3 conditions x 5 seeds;")
    print("each backend measured alone (the in-process line again at the end: the machine's drift)")
    print(f"  {'shots':>5}  {'backend / rung':<34} {'seconds':>8} {'x in-process':>12} "
          f"{'requests':>9} {'max |diff|':>10}")  # fmt: skip
    for n in args.shots:
        print(f"  {n:>5}  {'in process (HF)':<34} {base[n][1]:8.1f} {1:12.1f} {'-':>9} {'-':>10}")
    proc, url = start_server(weights)
    try:
        server = bayesmatrix.load(url + "?model=smollm2")
        print(f"  server: rungs answered {', '.join(server.limits.rungs)}")  # type: ignore[attr-defined]
        served_sweeps("server", server, args.shots, base, whole)
        if not args.no_sampling:
            compare_sampling(hf, server)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    if not args.no_engine:
        os.environ.update(THREADS)
        os.environ.setdefault("BAYESMATRIX_VLLM_PYTHON", str(VLLM_PYTHON))
        engine = bayesmatrix.load(f"vllm:{weights}")
        try:
            print(f"  engine: rungs answered {', '.join(engine.limits.rungs)}")  # type: ignore[attr-defined]
            served_sweeps("engine", engine, args.shots, base, whole)
        finally:
            engine.close()  # type: ignore[attr-defined]
    again = sweep(hf, max(args.shots), whole)[1]
    print(f"  {max(args.shots):>5}  {'in process (HF), again':<34} {again:8.1f}")


if __name__ == "__main__":
    main()
