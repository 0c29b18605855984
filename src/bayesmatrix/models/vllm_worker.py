"""The in-process vLLM engine, run as a worker in vLLM's own environment (it pins torch and
transformers versions of its own, so it cannot share bayesmatrix's). Standard library and vllm
only: this file is executed by that environment's python, never imported by bayesmatrix.

Protocol on stdin/stdout, one JSON object per line; answers are prefixed with PREFIX so that
anything vLLM prints is skipped: first {"ready": true, "max_model_len": N}, then for each
request (the body of a /v1/completions request with token-id prompts: prompt, max_tokens,
temperature, n, seed, min_tokens, logprobs, logprob_token_ids, prompt_logprobs, and
prompt_logprob_token_ids, a flat list of ids scored at every prompt row) the answer in the
shape of vLLM's reply with `return_tokens_as_token_ids`: {"choices": [{"index": i,
"logprobs": {"tokens": ["token_id:N", ...], "token_logprobs": [...], "top_logprobs": [...]},
"prompt_logprobs": [null, {id: {"logprob": x}}, ...], "prompt_token_id_logprobs": [[...]]}]},
or {"error": "..."}.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

PREFIX = "@@bayesmatrix@@"
FIELDS = ("max_tokens", "temperature", "n", "seed", "min_tokens", "logprobs", "logprob_token_ids",
          "prompt_logprobs")  # fmt: skip


def send(payload: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def choice(index: int, out: Any, sample: Any) -> dict:
    """One choice of the reply, as the server writes it."""
    entry: dict = {"index": index, "text": sample.text}
    if sample.logprobs is not None:
        ids = list(sample.token_ids)
        entry["logprobs"] = {
            "tokens": [f"token_id:{t}" for t in ids],
            "token_logprobs": [
                float(row[t].logprob) for t, row in zip(ids, sample.logprobs, strict=True)
            ],
            "top_logprobs": [
                {f"token_id:{t}": float(lp.logprob) for t, lp in row.items()}
                for row in sample.logprobs
            ],
        }
    if out.prompt_logprobs is not None:
        entry["prompt_logprobs"] = [
            None if row is None else {str(t): {"logprob": float(v.logprob)} for t, v in row.items()}
            for row in out.prompt_logprobs
        ]
    scored = getattr(out, "prompt_token_id_logprobs", None)
    if scored is not None:
        entry["prompt_token_id_logprobs"] = [[float(x) for x in row] for row in scored]
    return entry


# KV-cache block on CPU: vLLM's CPU default (128 tokens) leaves prompts shorter than a block
# out of the prefix cache, so a sampled path re-reads its whole prompt at every step;
# 32 (CPU kernels want multiples of 32; 16 fails to start): `benchmarks/backends.py --paths-only`
CPU_BLOCK = 32


def main() -> None:
    # run as a script, this file's folder is first on sys.path: a sibling module named like
    # one vLLM imports must never be found instead of it
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    options = json.loads(sys.argv[1])
    import torch
    from vllm import LLM, SamplingParams

    llm = LLM(
        model=options["model"],
        dtype=options.get("dtype", "float32"),
        max_model_len=options.get("max_model_len", 2048),
        max_logprobs=-1,
        enforce_eager=bool(options.get("eager", False)),
        **({} if torch.cuda.is_available() else {"block_size": CPU_BLOCK}),
    )
    send({"ready": True, "max_model_len": llm.llm_engine.model_config.max_model_len})
    for line in sys.stdin:
        try:
            request = json.loads(line)
            fields = {k: request[k] for k in FIELDS if request.get(k) is not None}
            fields.setdefault("max_tokens", 1)
            fields.setdefault("temperature", 0.0)
            scored = request.get("prompt_logprob_token_ids")
            outputs = []
            for ids in request["prompt"]:  # one set of params per prompt: rows follow its length
                rows = None if scored is None else [list(scored)] * (len(ids) - 1)
                params = SamplingParams(**fields, prompt_logprob_token_ids=rows)
                outputs.append((ids, params))
            done = llm.generate(
                [{"prompt_token_ids": ids} for ids, _ in outputs],
                [params for _, params in outputs],
                use_tqdm=False,
            )
            n = fields.get("n", 1)
            choices = [
                choice(i * n + j, out, sample)
                for i, out in enumerate(done)
                for j, sample in enumerate(out.outputs)
            ]
            send({"choices": choices})
        except Exception as exc:  # reported to the caller as one line, the worker keeps going
            send({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
