"""Mamba's selective scan on CPU: transformers' fallback against nets.selective_scan.

Times training steps (forward, backward, AdamW; batch 64, one torch thread) of the
parameter-matched wind-tunnel Mamba on the two peer protocols, bijection-peer (L = 40) and
hmm-incontext (L = 80), with the two scans interleaved in one run, and checks that both give the
same logits. The fallback indexes one position per step; each index's backward writes a zero
tensor of the whole [batch, D, L, N] size, so its cost grows with L^2.
Run: .venv/bin/python benchmarks/mamba_scan.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bayesmatrix.windtunnel import make_task
from bayesmatrix.windtunnel.nets import build
from bayesmatrix.windtunnel.train import BATCH, inputs_for

TASKS = {
    "bijection-peer (L=40)": ("bijection-peer", {"keys": 20, "pairs": 19}),
    "hmm-incontext (L=80)": ("hmm-incontext", {"symbols": 5, "steps": 15, "states": 5}),
}


def steps_per_second(model, forward, inputs, targets, vocab: int, seconds: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    done, start = 0, time.perf_counter()
    while done < 2 or time.perf_counter() - start < seconds:
        logits = forward(inputs)[..., :vocab]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'task':<24} {'fallback steps/s':>17} {'ours steps/s':>13} {'speed-up':>9} "
          f"{'max |logit diff|':>17}")  # fmt: skip
    for label, (name, settings) in TASKS.items():
        task = make_task(name, **settings)
        model = build("mamba", task.vocab, task.length, seed=0)
        x = torch.from_numpy(task.sample(BATCH, seed=1))
        inputs = inputs_for(x, task.vocab)
        with torch.no_grad():
            diff = (model(inputs) - model.lm(input_ids=inputs, use_cache=False).logits).abs()

        def theirs(ids: torch.Tensor, lm=model.lm) -> torch.Tensor:
            return lm(input_ids=ids, use_cache=False).logits

        rates: dict[str, list[float]] = {"theirs": [], "ours": []}
        for _ in range(args.repeats):
            for key, forward in (("theirs", theirs), ("ours", model)):
                rate = steps_per_second(model, forward, inputs, x, task.vocab, args.seconds)
                rates[key].append(rate)
        fallback, ours = (statistics.median(rates[k]) for k in ("theirs", "ours"))
        print(f"{label:<24} {fallback:>17.2f} {ours:>13.2f} {ours / fallback:>8.1f}x "
              f"{diff.max().item():>17.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
