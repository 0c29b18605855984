"""A vLLM server (OpenAI-compatible `/v1/completions`) as a transport of the vLLM protocol
(models.vllm_protocol): HTTP with the standard library, bounded connect and read timeouts,
retries of transient failures, and one line for every way a server can fail or misbehave.
Torch-free.

Reference: `http://HOST:PORT/v1?model=NAME&key=value...` with the options of OPTIONS (each
checked here, before any request); `bayesmatrix.load(reference)` connects: it checks the
served model exists, reads the server's context length and logprobs cap, loads the tokenizer
locally (the served model's folder, or `tokenizer=`), probes which rung reads chosen tokens,
and takes the model's identity from what the server reports about itself and its greedy
reading of a fixed prompt (another model served later under the same URL and name is
another identity, so its results are never mixed with this one's).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.reference import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    parse_server,
)
from bayesmatrix.models.vllm_protocol import VllmLanguageModel, VllmLimits, probe_rungs

log = logging.getLogger(__name__)
DEFAULT_SERVER_CAP = 20  # vLLM's --max-logprobs when not set; ?max_logprobs=K overrides
RETRIES = 3  # on refused connections and 5xx, with exponential backoff
WAITING_EVERY = 15.0  # seconds between "still waiting" lines while a reply is late
PROBE_TEXT = "The capital of France is"


class HttpTransport:
    """Requests to a server's /v1 endpoints: JSON over HTTP, each with a connect and a read
    timeout; a refused connection or a 5xx is retried (RETRIES times, backing off); a reply
    that is late is reported every WAITING_EVERY seconds (logging), and one that never comes
    is one error after `timeout` seconds."""

    def __init__(self, base: str, timeout: float = READ_TIMEOUT, connect: float = CONNECT_TIMEOUT):
        self.where, self.timeout, self.connect_timeout = base, timeout, connect
        self._said = float("-inf")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpTransport({self.where!r}, timeout={self.timeout:g})"

    def send(self, body: dict) -> dict:
        return self.request("/completions", body)

    def close(self) -> None:
        """Nothing to stop: the server is not ours."""

    def request(self, path: str, body: dict | None = None) -> dict:
        """POST (or GET without a body) JSON to base + path (see the class docstring)."""
        url = self.where + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        error = ""
        for attempt in range(RETRIES + 1):
            started = time.monotonic()
            done = threading.Event()
            threading.Thread(target=self._watch, args=(url, started, done), daemon=True).start()
            try:
                return self._once(url, data, headers)
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:400]
                if exc.code < 500:
                    hint = (
                        "; start the server with --max-logprobs -1"
                        if "logprobs" in detail.lower()
                        else ""
                    )
                    raise BayesmatrixError(f"{url}: HTTP {exc.code}: {detail}{hint}") from None
                error = f"HTTP {exc.code}: {detail}"
            except TimeoutError:
                raise BayesmatrixError(
                    f"the model server at {url} did not answer within "
                    f"{time.monotonic() - started:.0f} s; is it overloaded or stuck? (raise the "
                    "limit with ?timeout=SECONDS in the model URL)"
                ) from None
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError):
                    raise BayesmatrixError(
                        f"cannot connect to the model server at {url} within "
                        f"{self.connect_timeout:g} s; is it running? (?connect_timeout=SECONDS)"
                    ) from None
                error = str(reason)
            finally:
                done.set()
            if attempt < RETRIES:
                time.sleep(0.5 * 2**attempt)
        raise BayesmatrixError(
            f"cannot reach the model server at {url} ({error}) after {RETRIES + 1} tries; is it "
            "running? (vllm serve ... --host 127.0.0.1 --port N)"
        )

    def _once(self, url: str, data: bytes | None, headers: dict[str, str]) -> dict:
        """One request: connect within connect_timeout, then wait up to timeout for the
        reply; the reply must be a JSON object."""
        request = urllib.request.Request(url, data=data, headers=headers)
        with _opener(self.timeout, self.connect_timeout).open(request) as response:
            raw = response.read()
        try:
            reply = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BayesmatrixError(f"{url} answered with something that is not JSON") from None
        if not isinstance(reply, dict):
            raise BayesmatrixError(f"{url} answered with JSON that is not an object")
        return reply

    def _watch(self, url: str, started: float, done: threading.Event) -> None:
        """While a reply is late, say so every WAITING_EVERY seconds (once for all the
        requests in flight)."""
        while not done.wait(WAITING_EVERY):
            now = time.monotonic()
            with self._lock:
                if now - self._said < WAITING_EVERY - 0.5:
                    continue
                self._said = now
            log.warning(
                "still waiting for %s after %.0f s (gives up at %.0f s)",
                url, now - started, self.timeout,
            )  # fmt: skip


def _opener(read: float, connect: float) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections open within `connect` seconds and then wait up to
    `read` seconds for each reply (urllib alone has one timeout for both)."""

    def timed(kind: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        # a subclass of a class passed in: mypy cannot take a variable as a base
        class Timed(kind):  # type: ignore[valid-type, misc]
            def connect(self) -> None:
                self.timeout = connect
                super().connect()
                self.sock.settimeout(read)

        return Timed

    plain, secure = timed(http.client.HTTPConnection), timed(http.client.HTTPSConnection)

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(plain, req)

    class Secure(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(secure, req)

    return urllib.request.build_opener(Plain, Secure)


def _served(transport: HttpTransport, name: str | None) -> tuple[str, dict]:
    """(served model name, its entry in /v1/models), checked."""
    listed = transport.request("/models").get("data")
    if not isinstance(listed, list) or not all(isinstance(m, dict) for m in listed):
        raise BayesmatrixError(f"{transport.where}/models lists no models (no 'data' list)")
    names = [str(m.get("id")) for m in listed]
    if not names:
        raise BayesmatrixError(f"{transport.where} serves no model")
    if name is None:
        if len(names) != 1:
            raise BayesmatrixError(f"{transport.where} serves {names}; name one with ?model=NAME")
        name = names[0]
    if name not in names:
        raise BayesmatrixError(
            f"{transport.where} does not serve '{name}'; it serves {', '.join(names)}"
        )
    return name, listed[names.index(name)]


def served_identity(transport: HttpTransport, name: str, info: dict) -> str:
    """What a served model's results depend on: the server's description of it (name, the
    folder it loaded, its context length) and its greedy continuation of a fixed prompt (its
    text: asking for log-probabilities would fail on a server started with --max-logprobs 0)."""
    from bayesmatrix.results.store import digest

    body = {"model": name, "prompt": PROBE_TEXT, "max_tokens": 8, "temperature": 0.0}
    reply = transport.request("/completions", body)
    try:
        tokens = reply["choices"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise BayesmatrixError(
            f"malformed reply from {transport.where}: no text for a greedy completion"
        ) from None
    if not isinstance(tokens, str):
        raise BayesmatrixError(
            f"malformed reply from {transport.where}: the greedy completion is not text"
        )
    described = {k: info.get(k) for k in ("id", "root", "max_model_len")}
    return f"served:{name}:{digest({'server': described, 'probe': tokens})}"


def server_identity(reference: str) -> str:
    """The identity of the model a server reference names (connects; see served_identity)."""
    options = parse_server(reference)
    transport = HttpTransport(options.base, options.timeout, options.connect_timeout)
    name, info = _served(transport, options.model)
    return served_identity(transport, name, info)


def connect(
    reference: str, model: str | None = None, tokenizer: str | None = None
) -> VllmLanguageModel:
    """A VllmLanguageModel over HTTP (see the module docstring)."""
    from bayesmatrix.models.tokenizer import load_tokenizer

    options = parse_server(reference, model)
    transport = HttpTransport(options.base, options.timeout, options.connect_timeout)
    served, info = _served(transport, options.model)
    root = tokenizer or options.tokenizer or info.get("root") or served
    tok = load_tokenizer(root)
    config = Path(str(root)) / "config.json"
    vocab = len(tok)
    if config.is_file():
        vocab = int(json.loads(config.read_text()).get("vocab_size", vocab))
    cap = options.max_logprobs
    if cap is None:  # the server does not report its cap: ask for a full row and see
        probe = {"model": served, "prompt": [[0, 0]], "max_tokens": 1, "prompt_logprobs": -1}
        try:
            reply = transport.request("/completions", probe)
            rows = (reply.get("choices") or [{}])[0].get("prompt_logprobs") or [None, {}]
            given = len(rows[-1] or {}) if isinstance(rows, list) else 0
            cap = -1 if given >= vocab else max(given - 1, 0)
        except BayesmatrixError as exc:
            if "logprobs" not in str(exc):
                raise
            found = re.search(r"max allowed: (\d+)", str(exc))
            cap = int(found.group(1)) if found else DEFAULT_SERVER_CAP
    try:
        max_len = int(info.get("max_model_len", 2048))
    except (TypeError, ValueError):
        raise BayesmatrixError(
            f"{options.base}/models gives a max_model_len that is no number"
        ) from None
    limits = VllmLimits(cap == -1 or cap >= vocab, cap, concurrency=options.concurrency)
    identity = served_identity(transport, served, info)
    lm = VllmLanguageModel(transport, served, tok, max_len, vocab, limits, identity)
    lm.limits = replace(limits, rungs=probe_rungs(lm))
    if options.rung is not None:
        lm.rung = options.rung
    return lm
