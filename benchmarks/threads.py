"""Threads on a shared 2-core machine: why training uses 1 thread and the CLI and tests run
OpenMP with OMP_WAIT_POLICY=PASSIVE.

Measures, side by side in one run, (a) 150 wind-tunnel training steps of the transformer and
(b) a 512-token trace of smollm2-135m, with 1 or 2 torch threads and the ACTIVE (spinning) or
PASSIVE (sleeping) OpenMP wait policy, once on an idle machine and once while a busy loop holds
one core (what a shared CI machine looks like). Each setting runs in a fresh subprocess, since
the wait policy is read when OpenMP starts.
Run: .venv/bin/python benchmarks/threads.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

WORK = r"""
import sys, tempfile, time, torch
torch.set_num_threads(int(sys.argv[1]))
if sys.argv[2] == "train":
    from bayesmatrix.windtunnel import make_task
    from bayesmatrix.windtunnel.train import train
    task = make_task("dirichlet", vocab=8, alpha=1.0, length=32)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter(); train(task, "transformer", d, minutes=5, max_steps=150,
                                       threads=int(sys.argv[1]))
else:
    import bayesmatrix
    from bayesmatrix.data import stdlib_docs
    lm = bayesmatrix.load("smollm2-135m")
    ids = lm.tokenize(stdlib_docs(max_chars=20000))[0][:512]
    lm.trace(ids[:64])
    t = time.perf_counter()
    for _ in range(3):
        lm.trace(ids)
print((time.perf_counter() - t) / (1 if sys.argv[2] == "train" else 3))
"""


def run(threads: int, policy: str, work: str) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    out = subprocess.run(
        [sys.executable, "-c", WORK, str(threads), work],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    settings = [(t, p) for t in (1, 2) for p in ("ACTIVE", "PASSIVE")]
    results: dict[tuple, float] = {}
    for load in ("idle", "one core busy"):
        busy = None
        if load != "idle":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for work in ("train", "trace"):
                for threads, policy in settings:
                    results[(load, work, threads, policy)] = run(threads, policy, work)
        finally:
            if busy is not None:
                busy.kill()
    print(f"{'machine':<14} {'work':<32} {'1 ACTIVE':>9} {'1 PASSIVE':>10} {'2 ACTIVE':>9} "
          f"{'2 PASSIVE':>10}")  # fmt: skip
    names = {"train": "150 training steps (s)", "trace": "512-token trace (s)"}
    for load in ("idle", "one core busy"):
        for work in ("train", "trace"):
            row = [results[(load, work, t, p)] for t, p in settings]
            print(f"{load:<14} {names[work]:<32} " + " ".join(f"{x:>9.2f}" for x in row))
    for work in ("train", "trace"):
        worst = results[("one core busy", work, 2, "ACTIVE")]
        for threads, policy in settings:
            ratio = worst / results[("one core busy", work, threads, policy)]
            print(f"{names[work]}, one core busy: {threads} {policy} is {ratio:.2f}x 2 ACTIVE")


if __name__ == "__main__":
    main()
