"""Peak resident memory while tracing 2048 tokens with gemma3-270m (262k vocabulary).

Each measurement runs in a fresh process so its peak RSS is its own: (a) load only,
(b) load + trace (statistics in chunks), (c) load + a bare model(input_ids) forward,
which materialises all [2048, 262144] float32 logits, for comparison.
Claim: (b) stays under 2.5 GB. Needs a converted-model cache (any earlier load makes it).
Run: .venv/bin/python benchmarks/trace_memory.py [--model gemma3-270m]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, torch, bayesmatrix
mode, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lm = bayesmatrix.load(name)
ids = torch.randint(100, lm.vocab_size, (1, n), generator=torch.Generator().manual_seed(0))
if mode == "trace":
    lm.trace(ids[0].tolist(), top_k=5)
elif mode == "bare":
    with torch.inference_mode():
        lm.model(input_ids=ids, use_cache=False).logits.sum()
print(json.dumps({"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def peak(mode: str, model: str, tokens: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, model, str(tokens)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_gb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--tokens", type=int, default=2048)
    args = parser.parse_args()
    peak("load", args.model, 8)  # make sure the converted cache exists before measuring
    results = {mode: peak(mode, args.model, args.tokens) for mode in ("load", "trace", "bare")}
    print(f"model={args.model} tokens={args.tokens}")
    for mode, label in (
        ("load", "load only"),
        ("trace", "load + trace"),
        ("bare", "load + bare forward (all logits)"),
    ):
        print(f"{label:>34}: peak RSS {results[mode]:.2f} GiB")
    print(
        f"trace overhead over load: {results['trace'] - results['load']:.2f} GiB; "
        f"bare forward / trace peak = {results['bare'] / results['trace']:.2f}x"
    )
    verdict = "OK" if results["trace"] < 2.5 else "ABOVE TARGET"
    print(f"trace peak {results['trace']:.2f} GiB (target < 2.5): {verdict}")


if __name__ == "__main__":
    main()
