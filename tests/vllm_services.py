"""The real vLLM server and engine the suite reads SmolLM2 through, each started once per test
run, in the background as soon as collection shows a test will need them (they take about a
minute each to start on 2 CPU cores, meanwhile other tests run), and waited for by the
fixtures that use them. Both run eager (no torch.compile: it triples the start-up and does not
change a reading)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bayesmatrix.models.vllm_worker import CPU_BLOCK

VLLM_PYTHON = Path(__file__).parents[1] / ".venv-vllm" / "bin" / "python"
START_LIMIT = 600  # seconds before a start that has not answered is a failure
SHARED = "BAYESMATRIX_TEST_VLLM_PORT"  # under xdist: the port of the controller's server


def wanted() -> Path:
    """Under xdist: the file by which a worker asks the controller for the shared server."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"bayesmatrix-vllm-{os.environ[SHARED]}.wanted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def converted() -> Path:
    """SmolLM2's converted folder, converting its GGUF first on a machine that has not yet (a
    fresh cache: the services start before any test has loaded the model)."""
    from bayesmatrix.models.hf_load import local_dir

    folder, _ = local_dir("smollm2-135m")
    return Path(folder)


class Server:
    """`vllm serve` of SmolLM2's converted folder on a free port of 127.0.0.1."""

    def __init__(self, port: int | None = None) -> None:
        self.place(port or free_port())
        weights = converted()
        command = [
            *(str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server"),
            *("--model", str(weights), "--served-model-name", "smollm2"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--max-logprobs", "-1"),
            *("--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"),
            *("--block-size", str(CPU_BLOCK)),  # prefix caching on prompts under 128 tokens
        ]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.started = time.monotonic()

    def place(self, port: int) -> None:
        self.port, self.base = port, f"http://127.0.0.1:{port}/v1"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vllm-{port}.log"

    def url(self) -> str:
        """The base URL once the server answers (fails the test if it never does). Asked at
        least once however late the first test that needs it comes: the limit counts from
        the start, which may lie long before."""
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"vLLM exited with {self.proc.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(self.base + "/models", timeout=2)
                return self.base
            except OSError:
                if time.monotonic() - self.started > START_LIMIT:
                    pytest.fail(f"vLLM did not start within {START_LIMIT} s; see {self.log}")
                time.sleep(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class SharedServer(Server):
    """Under xdist, in a worker: the server the controller started on the shared port."""

    def __init__(self, port: int) -> None:
        self.place(port)
        self.started, self.proc = time.monotonic(), None

    def stop(self) -> None:
        """The controller stops it."""


class Engine:
    """vLLM's in-process engine (`vllm:<folder>?eager=1`), loaded by a background thread."""

    def __init__(self) -> None:
        os.environ["BAYESMATRIX_VLLM_PYTHON"] = str(VLLM_PYTHON)
        self.reference = f"vllm:{converted()}?eager=1"
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


def start(needed: set[str], port: int | None = None) -> None:
    """Start the services a test run needs ('server', 'engine'), once; in an xdist worker the
    server is the controller's."""
    if not VLLM_PYTHON.is_file():
        return  # the fixtures fail with the reason
    if "server" in needed and "server" not in _STARTED:
        shared = os.environ.get(SHARED)
        if port is None and shared and os.environ.get("PYTEST_XDIST_WORKER"):
            _STARTED["server"] = SharedServer(int(shared))
        else:
            _STARTED["server"] = Server(port)
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


class Proxy:
    """A stand-in for another vLLM: forwards to the real server, but refuses (HTTP 400, as
    vLLM refuses a field it validates) or drops (as an older server ignores an unknown field)
    chosen request fields, or caps logprobs as `--max-logprobs cap` would, or rewrites the
    replies to completions (`mangle(status, payload) -> (status, payload)`, or None: never
    answer); `stop` closes it (a server killed mid-sweep). Counts the requests it forwards."""

    def __init__(
        self, upstream: str, refuse=(), drop=(), cap=None, prompt_cap=None, port=0, mangle=None
    ):
        self.upstream, self.count = upstream.removesuffix("/v1"), 0
        self.mangle = mangle
        self.refuse, self.drop, self.cap = set(refuse), set(drop), cap
        self.prompt_cap = prompt_cap  # caps prompt_logprobs only
        self.stopped = False
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, code: int, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes | None) -> None:
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body,
                    headers={"Content-Type": "application/json"},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=300) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                if proxy.mangle is not None and self.path.endswith("/completions"):
                    mangled = proxy.mangle(status, payload)
                    if mangled is None:  # a server that accepts and never answers
                        while not proxy.stopped:
                            time.sleep(0.05)
                        return
                    status, payload = mangled
                self._send(status, payload)

            def do_GET(self):
                self._forward(None)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.count += 1
                refused = sorted(proxy.refuse & set(body))
                asked = [body.get(k) for k in ("prompt_logprobs", "logprobs")]
                if (
                    proxy.prompt_cap is not None
                    and (body.get("prompt_logprobs") or 0) > proxy.prompt_cap
                ):
                    refused = ["prompt_logprobs"]
                if proxy.cap is not None and any(a is not None and (a == -1 or a > proxy.cap)
                                                 for a in asked):  # fmt: skip
                    big = next(a for a in asked if a is not None and (a == -1 or a > proxy.cap))
                    message = (f"Requested prompt logprobs of {big}, which is greater than max "
                               f"allowed: {proxy.cap}")  # fmt: skip
                    self._send(400, json.dumps({"error": {"message": message}}).encode())
                elif refused:
                    message = f"{refused[0]} is not supported by this server"
                    self._send(400, json.dumps({"error": {"message": message}}).encode())
                else:
                    for key in proxy.drop:
                        body.pop(key, None)
                    self._forward(json.dumps(body).encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Proxy:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (connections are refused from now on)."""
        if not self.stopped:
            self.stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()

    def __exit__(self, *exc) -> None:
        self.stop()
