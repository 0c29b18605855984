"""vLLM's in-process engine (`vllm.LLM`) as a transport of the vLLM protocol
(models.vllm_protocol): a worker process of vLLM's own environment (models/vllm_worker.py)
answers the requests a server would, over a pipe instead of HTTP. Torch-free on this side.

Reference: `vllm:<model folder>[?eager=1]`; eager runs the engine without torch.compile
(starts in under a minute on a CPU instead of about three; the readings are the same).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.reference import ModelRef, engine_options
from bayesmatrix.models.vllm_protocol import VllmLanguageModel, VllmLimits, probe_rungs

ENGINE_BATCH = 64  # prompts per call: the engine batches them itself (one pipe, no concurrency)


class EngineTransport:
    """Requests to a vLLM engine worker over its pipe, one at a time (a lock), each reply the
    line the worker marks as its answer."""

    def __init__(self, worker: subprocess.Popen, folder: str, log: Path | None = None) -> None:
        if worker.stdin is None or worker.stdout is None:
            raise BayesmatrixError("a vLLM engine worker needs pipes to stdin and stdout")
        self.worker, self.where, self.log = worker, f"vllm:{folder}", log
        self.stdin = worker.stdin
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EngineTransport({self.where!r})"

    def send(self, body: dict) -> dict:
        with self._lock:
            if self.worker.poll() is not None:
                raise BayesmatrixError(exited(self.worker.returncode, self.log))
            self.stdin.write(json.dumps(body) + "\n")
            self.stdin.flush()
            reply = read_reply(self.worker, self.log)
        if "error" in reply:
            raise BayesmatrixError(f"the vLLM engine refused the request: {reply['error']}")
        return reply

    def close(self) -> None:
        """Stop the worker (also done when the transport is collected); its log is removed
        once it has exited cleanly, kept when it says why it failed."""
        if self.worker.poll() is None:
            self.stdin.close()
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        if self.worker.returncode == 0 and self.log is not None:
            self.log.unlink(missing_ok=True)

    def __del__(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is not None and worker.poll() is None:
            worker.kill()


KV_CACHE = "VLLM_CPU_KVCACHE_SPACE"  # GiB of KV cache vLLM's CPU engine sets aside


def exited(code: int | None, log: Path | None) -> str:
    """One line for a worker that has exited: its code and the last line of what it printed
    on stderr (where vLLM and Python say why), with the log's path."""
    last = ""
    if log is not None and log.is_file():
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
        last = f": {lines[-1].strip()} (its log: {log})" if lines else f" (its log: {log})"
    return f"the vLLM engine worker exited (code {code}){last}"


def read_reply(worker: subprocess.Popen, log: Path | None = None) -> dict:
    """The worker's next answer line (anything vLLM prints besides is skipped)."""
    from bayesmatrix.models.vllm_worker import PREFIX

    for line in worker.stdout or ():
        if line.startswith(PREFIX):
            reply = json.loads(line[len(PREFIX) :])
            if not isinstance(reply, dict):
                raise BayesmatrixError("the vLLM engine worker answered with a non-object")
            return reply
    raise BayesmatrixError(exited(worker.wait(), log))


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


def start_engine(reference: str) -> VllmLanguageModel:
    """`vllm:<model folder>`: start the worker, wait for the engine, load the tokenizer."""
    from bayesmatrix.models import vllm_worker
    from bayesmatrix.models.tokenizer import load_tokenizer

    folder_text, eager = engine_options(reference)
    ref = ModelRef.parse(f"vllm:{folder_text}")
    folder = Path(ref.location)
    tokenizer = load_tokenizer(folder)
    options = json.dumps({"model": str(folder), "dtype": "float32", "eager": eager})
    log = Path(tempfile.mkstemp(prefix="bayesmatrix-vllm-engine-", suffix=".log")[1])
    with open(log, "w") as stderr:
        worker = subprocess.Popen(
            [vllm_python(), vllm_worker.__file__, options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, KV_CACHE: os.environ.get(KV_CACHE, "1")},
        )
    ready = read_reply(worker, log)
    transport = EngineTransport(worker, str(folder), log)
    vocab = len(tokenizer)
    config = json.loads((folder / "config.json").read_text())
    vocab = int(config.get("vocab_size", vocab))
    limits = VllmLimits(full_rows=True, max_logprobs=-1, concurrency=1, batch=ENGINE_BATCH)
    lm = VllmLanguageModel(
        transport, folder.name, tokenizer, int(ready["max_model_len"]), vocab, limits,
        ref.identity(),
    )  # fmt: skip
    lm.limits = replace(lm.limits, rungs=probe_rungs(lm))
    return lm
