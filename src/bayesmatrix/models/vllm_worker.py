"""The in-process vLLM engine, run as a worker in vLLM's own environment (it pins torch and
transformers versions of its own, so it cannot share bayesmatrix's). Standard library and vllm
only: this file is executed by that environment's python, never imported by bayesmatrix.

Protocol on stdin/stdout, one JSON object per line; answers are prefixed with PREFIX so that
anything vLLM prints is skipped: first {"ready": true, "max_model_len": N}, then for each
request {"prompt": [[ids...], ...], "prompt_logprobs": k} the answer in the shape of vLLM's
/v1/completions reply: {"choices": [{"index": i, "prompt_logprobs": [null, {id: {"logprob":
x}}, ...]}]}, or {"error": "..."}.
"""

from __future__ import annotations

import json
import sys

PREFIX = "@@bayesmatrix@@"


def send(payload: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    options = json.loads(sys.argv[1])
    from vllm import LLM, SamplingParams

    llm = LLM(
        model=options["model"],
        dtype=options.get("dtype", "float32"),
        max_model_len=options.get("max_model_len", 2048),
        max_logprobs=-1,
    )
    send({"ready": True, "max_model_len": llm.llm_engine.model_config.max_model_len})
    for line in sys.stdin:
        try:
            request = json.loads(line)
            params = SamplingParams(
                max_tokens=1, temperature=0.0, prompt_logprobs=request["prompt_logprobs"]
            )
            prompts = [{"prompt_token_ids": ids} for ids in request["prompt"]]
            outputs = llm.generate(prompts, params, use_tqdm=False)
            choices = [
                {
                    "index": i,
                    "prompt_logprobs": [
                        None
                        if row is None
                        else {str(t): {"logprob": float(lp.logprob)} for t, lp in row.items()}
                        for row in out.prompt_logprobs
                    ],
                }
                for i, out in enumerate(outputs)
            ]
            send({"choices": choices})
        except Exception as exc:  # reported to the caller as one line, the worker keeps going
            send({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
