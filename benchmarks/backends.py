"""The HF backend against a vLLM server on this CPU, side by side in one run, on the same
SmolLM2 weights: a 32-shot ICL sweep (3 conditions x 5 seeds, sentiment: the prequential label
probabilities) and a 2,048-token trace (log-prob of each actual token and the top 5; the server
is asked for top-5 rows, as full rows over JSON cost 49k entries per position).

Prints wall time, tokens/s, requests/s and the batching used, and the largest difference in
the readings. vLLM's point is GPUs and servers: on 2 CPU cores it is not expected to win.
Run: .venv/bin/python benchmarks/backends.py   (needs .venv-vllm: `make vllm`)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
from icl_single_pass import sweep_cells  # this folder is on sys.path when run as a script

import bayesmatrix
from bayesmatrix.data import stdlib_docs
from bayesmatrix.experiments.icl.sweep import prequential_label_probs
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models import vllm_server
from bayesmatrix.models.paths import gguf_cache_dir, resolve
from bayesmatrix.models.vllm_server import ServerLanguageModel, ServerLimits

VLLM_PYTHON = Path(__file__).parents[1] / ".venv-vllm" / "bin" / "python"


def start_server(weights: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        *(str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(weights)),
        *("--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port)),
        *("--max-logprobs", "-1", "--dtype", "float32", "--max-model-len", "4096"),
    ]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(2)
    raise SystemExit("vLLM did not start")


def counting(lm: ServerLanguageModel) -> list[int]:
    """Count the HTTP requests a ServerLanguageModel sends."""
    calls = [0]
    post = lm._post

    def counted(path: str, body: dict) -> dict:
        calls[0] += 1
        return post(path, body)

    lm._post = counted  # type: ignore[method-assign]
    return calls


def main() -> None:
    hf = bayesmatrix.load("smollm2-135m")
    proc, url = start_server(gguf_cache_dir(resolve("smollm2-135m")[1]))
    try:
        served = bayesmatrix.load(url + "?model=smollm2")
        top_k = ServerLanguageModel(
            served.base, "smollm2", served.tokenizer, 4096, served.vocab_size,
            ServerLimits(full_rows=False, max_logprobs=-1),
        )  # fmt: skip
        cells = sweep_cells()
        labels = get_task("sentiment").labels
        results, seconds, requests = {}, {}, {}
        for name, lm in (("hf", hf), ("vllm", served)):
            calls = counting(lm) if name == "vllm" else [0]
            start = time.perf_counter()
            results[name] = [
                prequential_label_probs(lm, d, w)[[f"p_{y}" for y in labels]].to_numpy()
                for d, w in cells
            ]
            seconds[name], requests[name] = time.perf_counter() - start, calls[0]
        icl_diff = max(
            float(np.abs(a - b).max()) for a, b in zip(results["hf"], results["vllm"], strict=True)
        )
        ids = hf.tokenize(stdlib_docs(max_chars=20_000))[0][:2048]
        traces, trace_s = {}, {}
        for name, lm in (("hf", hf), ("vllm", top_k)):
            start = time.perf_counter()
            traces[name] = lm.trace(ids, top_k=5)
            trace_s[name] = time.perf_counter() - start
        a, b = traces["hf"], traces["vllm"]
        lp_diff = float(np.nanmax(np.abs(a.logprob_next - b.logprob_next)))
        top1 = float((a.topk_ids[:, 0] == b.topk_ids[:, 0]).mean())
        lower, upper = b.entropy_bounds.T
        inside = float(((lower <= a.entropy + 1e-3) & (a.entropy <= upper + 1e-3)).mean())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
    print(f"ICL sweep, 3 conditions x 5 seeds x 32 shots ({len(cells)} contexts):")
    print(f"  HF   : {seconds['hf']:7.1f} s, one forward pass per context")
    print(
        f"  vLLM : {seconds['vllm']:7.1f} s, {requests['vllm']} requests "
        f"({requests['vllm'] / seconds['vllm']:.1f}/s, up to {vllm_server.BATCH} prompts each: one "
        "prompt per (demonstration, label word), the server's prefix cache shares the context)"
    )
    print(f"  max |difference| in label probabilities: {icl_diff:.1e}")
    print(f"trace of {len(ids)} tokens, top 5:")
    for name in ("hf", "vllm"):
        print(f"  {name:<4} : {trace_s[name]:6.1f} s, {len(ids) / trace_s[name]:7.0f} tokens/s")
    print(
        f"  max |difference| in log p(actual token) {lp_diff:.1e}; top-1 agreement {top1:.1%}; "
        f"exact entropy inside vLLM's top-5 bounds at {inside:.1%} of positions"
    )


if __name__ == "__main__":
    main()
