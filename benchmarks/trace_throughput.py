"""Tokens/s of LanguageModel.trace (surprisal + entropy + top-5) against a bare
model(input_ids) forward on the same 2048 tokens, measured side by side, interleaved.

Claim: trace / bare >= 0.95 (the bare forward, which also forms all logits, is the limit here).
Run: .venv/bin/python benchmarks/trace_throughput.py [--model smollm2-135m] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import bayesmatrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    lm = bayesmatrix.load(args.model)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, lm.vocab_size, (1, args.tokens), generator=generator)
    ids_list = ids[0].tolist()

    def bare() -> None:
        with torch.inference_mode():
            lm.model(input_ids=ids, use_cache=False).logits.sum()

    def traced() -> None:
        lm.trace(ids_list, top_k=5)

    bare()
    traced()  # warm-up both paths
    times: dict[str, list[float]] = {"bare forward": [], "trace": []}
    for _ in range(args.repeats):
        for name, fn in (("bare forward", bare), ("trace", traced)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"model={lm.name} tokens={args.tokens} repeats={args.repeats} "
        f"threads={torch.get_num_threads()}"
    )
    for name, t in med.items():
        print(f"{name:>13}: median {t:.3f} s  ->  {args.tokens / t:,.0f} tokens/s")
    ratio = med["bare forward"] / med["trace"]
    print(
        f"throughput ratio trace/bare = {ratio:.3f} (target >= 0.95): "
        f"{'OK' if ratio >= 0.95 else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
