"""The real vLLM server and engine the suite reads SmolLM2 through, each started once per test
run, in the background as soon as collection shows a test will need them (they take about a
minute each to start on 2 CPU cores, meanwhile other tests run), and waited for by the
fixtures that use them. Both run eager (no torch.compile: it triples the start-up and does not
change a reading)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

VLLM_PYTHON = Path(__file__).parents[1] / ".venv-vllm" / "bin" / "python"
START_LIMIT = 600  # seconds before a start that has not answered is a failure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`vllm serve` of SmolLM2's converted folder on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        from bayesmatrix.models.reference import converted_folder

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/v1"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vllm-{self.port}.log"
        weights = converted_folder("smollm2-135m")
        command = [
            *(str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server"),
            *("--model", str(weights), "--served-model-name", "smollm2"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--max-logprobs", "-1"),
            *("--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"),
        ]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.started = time.monotonic()

    def url(self) -> str:
        """The base URL once the server answers (fails the test if it never does)."""
        while time.monotonic() - self.started < START_LIMIT:
            if self.proc.poll() is not None:
                pytest.fail(f"vLLM exited with {self.proc.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(self.base + "/models", timeout=2)
                return self.base
            except OSError:
                time.sleep(1)
        pytest.fail(f"vLLM did not start within {START_LIMIT} s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Engine:
    """vLLM's in-process engine (`vllm:<folder>?eager=1`), loaded by a background thread."""

    def __init__(self) -> None:
        from bayesmatrix.models.reference import converted_folder

        os.environ["BAYESMATRIX_VLLM_PYTHON"] = str(VLLM_PYTHON)
        self.reference = f"vllm:{converted_folder('smollm2-135m')}?eager=1"
        self.model = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._load, daemon=True)
        self.thread.start()

    def _load(self) -> None:
        import bayesmatrix

        try:
            self.model = bayesmatrix.load(self.reference)
        except BaseException as exc:  # reported to the test that waits for it
            self.error = exc

    def get(self):
        """The engine once it is up (fails the test if it could not start)."""
        self.thread.join(START_LIMIT)
        if self.error is not None:
            pytest.fail(f"the vLLM engine did not start: {self.error}")
        if self.model is None:
            pytest.fail(f"the vLLM engine did not start within {START_LIMIT} s")
        return self.model

    def stop(self) -> None:
        self.thread.join(START_LIMIT)
        if self.model is not None:
            self.model.close()


_STARTED: dict[str, Server | Engine] = {}


def start(needed: set[str]) -> None:
    """Start the services a test run needs ('server', 'engine'), once."""
    if not VLLM_PYTHON.is_file():
        return  # the fixtures fail with the reason
    if "server" in needed and "server" not in _STARTED:
        _STARTED["server"] = Server()
    if "engine" in needed and "engine" not in _STARTED:
        _STARTED["engine"] = Engine()


def get(name: str) -> Server | Engine:
    """A started service (starting it now if collection did not)."""
    if not VLLM_PYTHON.is_file():
        pytest.fail("the vLLM venv is missing: `make vllm` (make test builds it) creates it")
    start({name})
    return _STARTED[name]


def stop_all() -> None:
    for service in _STARTED.values():
        service.stop()
    _STARTED.clear()
