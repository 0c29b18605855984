"""vLLM's in-process engine (`vllm.LLM`) behind the LanguageModel interface: driven in a
worker process of vLLM's own environment (models/vllm_worker.py), it gives the readings a
vLLM server gives, without HTTP. Torch-free on this side."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.vllm_server import ServerLanguageModel, ServerLimits, probe_rungs

ENGINE_BATCH = 64  # prompts per call: the engine batches them itself (one pipe, no concurrency)


class EngineLanguageModel(ServerLanguageModel):
    """vLLM's in-process engine (`vllm.LLM`), driven in a worker process of vLLM's own
    environment (models/vllm_worker.py): the same readings as the server, without HTTP."""

    def __init__(self, worker: subprocess.Popen, ref: str, tokenizer: object, max_len: int) -> None:
        limits = ServerLimits(full_rows=True, max_logprobs=-1, concurrency=1, batch=ENGINE_BATCH)
        config = Path(ref) / "config.json"
        vocab = len(tokenizer)  # type: ignore[arg-type]
        if config.is_file():
            vocab = int(json.loads(config.read_text()).get("vocab_size", vocab))
        super().__init__(f"vllm:{ref}", Path(ref).name, tokenizer, max_len, vocab, limits)
        self.worker = worker
        self.identity = f"vllm:{ref}"

    def __repr__(self) -> str:
        return f"EngineLanguageModel({self.base!r}, {self.limits})"

    def _post(self, path: str, body: dict) -> dict:
        self.worker.stdin.write(json.dumps(body) + "\n")  # type: ignore[union-attr]
        self.worker.stdin.flush()  # type: ignore[union-attr]
        reply = _read_reply(self.worker)
        if "error" in reply:
            raise BayesmatrixError(f"the vLLM engine refused the request: {reply['error']}")
        return reply

    def close(self) -> None:
        """Stop the worker (also done when the object is collected)."""
        if self.worker.poll() is None:
            self.worker.stdin.close()  # type: ignore[union-attr]
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()

    def __del__(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is not None and worker.poll() is None:
            worker.kill()


def _read_reply(worker: subprocess.Popen) -> dict:
    from bayesmatrix.models.vllm_worker import PREFIX

    for line in worker.stdout:  # type: ignore[union-attr]
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX) :])
    raise BayesmatrixError(f"the vLLM engine worker exited (code {worker.wait()})")


def vllm_python() -> str:
    """The python of an environment with vllm installed: $BAYESMATRIX_VLLM_PYTHON, else
    ./.venv-vllm/bin/python (what `make vllm` builds)."""
    chosen = os.environ.get("BAYESMATRIX_VLLM_PYTHON") or str(Path(".venv-vllm/bin/python"))
    if not Path(chosen).is_file():
        raise BayesmatrixError(
            f"no python with vllm at {chosen}; build one with `make vllm`, or set "
            "BAYESMATRIX_VLLM_PYTHON to the python of an environment where vllm is installed"
        )
    return chosen


def start_engine(reference: str) -> EngineLanguageModel:
    """`vllm:<model folder>`: start the worker, wait for the engine, load the tokenizer."""
    from bayesmatrix.models import vllm_worker
    from bayesmatrix.models.tokenizer import load_tokenizer

    ref = reference.removeprefix("vllm:")
    folder = Path(ref).expanduser()
    if not (folder / "config.json").is_file():
        raise BayesmatrixError(
            f"vllm:{ref} must name a model folder with config.json (e.g. a converted GGUF: "
            "~/.cache/bayesmatrix/converted/...)"
        )
    tokenizer = load_tokenizer(folder)
    options = json.dumps({"model": str(folder.resolve()), "dtype": "float32"})
    worker = subprocess.Popen(
        [vllm_python(), vllm_worker.__file__, options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")},
    )
    ready = _read_reply(worker)
    lm = EngineLanguageModel(worker, str(folder.resolve()), tokenizer, int(ready["max_model_len"]))
    lm.limits = replace(lm.limits, rungs=probe_rungs(lm))
    return lm
