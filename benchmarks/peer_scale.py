"""What the authors' in-context HMM run would cost on this CPU.

Times training steps (forward, backward, AdamW; one torch thread) of our default wind-tunnel
transformer (width 64, 2 layers, ~89k parameters, batches of 64) against one of the authors'
size (width 256, 4 layers, ~2.65M parameters, batches of 128) on hmm-incontext (L = 80),
interleaved in one run, and projects their 100k steps to CPU-hours.
Run: .venv/bin/python benchmarks/peer_scale.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bayesmatrix.windtunnel import make_task
from bayesmatrix.windtunnel.nets import Transformer, n_params
from bayesmatrix.windtunnel.train import inputs_for

SIZES = {"ours": (64, 2, 64), "authors' size": (256, 4, 128)}  # width, layers, batch
AUTHORS_STEPS = 100_000


def seconds_per_step(width: int, layers: int, batch: int, seconds: float) -> tuple[int, float]:
    task = make_task("hmm-incontext", symbols=5, steps=15, states=5)
    model = Transformer(task.vocab, task.length, width=width, layers=layers)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.from_numpy(task.sample(batch, seed=1))
    inputs = inputs_for(x, task.vocab)
    done, start = 0, time.perf_counter()
    while done < 2 or time.perf_counter() - start < seconds:
        logits = model(inputs)[..., : task.vocab]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, task.vocab), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
    return n_params(model), (time.perf_counter() - start) / done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {k: [] for k in SIZES}
    params: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, size in SIZES.items():
            params[name], per_step = seconds_per_step(*size, args.seconds)
            times[name].append(per_step)
    for name, (width, layers, batch) in SIZES.items():
        median = statistics.median(times[name])
        print(f"{name:<14} width {width:>3}, {layers} layers, batch {batch:>3}, "
              f"{params[name]:>9,} parameters: {median * 1000:8.0f} ms/step")  # fmt: skip
    ratio = statistics.median(times["authors' size"]) / statistics.median(times["ours"])
    hours = AUTHORS_STEPS * statistics.median(times["authors' size"]) / 3600
    print(f"a step of the authors' size costs {ratio:.0f} of ours; their {AUTHORS_STEPS:,} steps "
          f"would take {hours:.0f} CPU-hours here")  # fmt: skip


if __name__ == "__main__":
    main()
