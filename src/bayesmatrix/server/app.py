"""FastAPI app of the explorer: trace a prompt, look at rows, watch in-context learning.

Safe by default: the CLI binds to localhost; requests must name an allowed host (no DNS
rebinding); bodies are size-limited as they stream, whatever Content-Length says; responses
carry a strict Content-Security-Policy and no-sniff/no-referrer/no-framing headers; model names
are restricted to the registry and to directories the user allowed (no arbitrary file reads,
and absolute paths are never shown); one model is in memory at a time and requests that need
it queue on a lock; user errors are 400 JSON responses and unexpected ones 500 JSON, so the
server keeps running.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator

from bayesmatrix.data import PLAIN_TEMPLATE
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import MODELS

MAX_BODY_BYTES = 64 * 1024
MAX_PROMPT_CHARS = 4000
MAX_DEMOS = 64
MAX_LABELS = 10  # label words per ICL request: each costs a scored continuation per demo
MAX_LABEL_CHARS = 40
MAX_JSON_DEPTH = 32
LOCK_WAIT_SECONDS = 30.0  # a request that cannot get the model this long is answered 503


class TraceRequest(BaseModel):
    model: str
    prompt: str = Field(min_length=1)
    top_k: int = Field(default=10, ge=1, le=50)


class IclRequest(BaseModel):
    model: str
    demos: list[tuple[str, str]] = Field(min_length=1, max_length=MAX_DEMOS)
    label_words: dict[str, str] = Field(min_length=2, max_length=MAX_LABELS)
    # the task's format (GET /api/task gives the shipped one); defaults: the plain format
    template: str = Field(default=PLAIN_TEMPLATE, max_length=500)
    instruction: str = Field(default="", max_length=500)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        from bayesmatrix.experiments.icl.tasks import check_template

        check_template(value)
        return value

    @field_validator("instruction")
    @classmethod
    def _instruction(cls, value: str) -> str:
        from bayesmatrix.experiments.icl.tasks import check_instruction

        check_instruction(value)
        return value

    @model_validator(mode="after")
    def _labels(self) -> IclRequest:
        words = [w.strip() for w in self.label_words.values()]
        if not all(words) or len(set(words)) != len(words):
            raise ValueError("label words must be non-empty and distinct (at least 2 labels)")
        if any(len(w) > MAX_LABEL_CHARS for w in words):
            raise ValueError(f"label words must be at most {MAX_LABEL_CHARS} characters")
        unknown = sorted({y for _, y in self.demos} - set(self.label_words))
        if unknown:
            raise ValueError(f"demonstration labels {unknown} have no label word")
        return self


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


def host_name(header: str) -> str:
    """The host part of a Host header ('[::1]:8000' -> '::1', 'a.b:80' -> 'a.b')."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: Host allow-list, a body limit enforced on the stream (the body is read
    here, up to the limit, before the app sees it), and security headers on every response."""

    def __init__(self, app: Any, hosts: Sequence[str], max_body: int) -> None:
        self.app, self.hosts, self.max_body = app, {h.lower() for h in hosts}, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.hosts:
            return await _reply(secured, 400, f"host '{host}' is not served here")
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                return await _reply(secured, 413, f"request body over {self.max_body} bytes")
        problem = json_problem(body) if body else None
        if problem:
            return await _reply(secured, 400, problem)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, secured)


def json_problem(body: bytes) -> str | None:
    """Why a JSON body cannot be taken, checked before the app parses it: nesting deeper than
    MAX_JSON_DEPTH (a parser's recursion limit) or text that is not valid Unicode (a lone
    surrogate escape, which no tokenizer can encode). None when it is fine or not JSON."""
    depth = deepest = 0
    quoted = escaped = False
    for byte in body:
        if quoted:
            escaped, quoted = (False, True) if escaped else (byte == 92, byte != 34)
        elif byte == 34:
            quoted = True
        elif byte in (91, 123):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (93, 125):
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        return f"the JSON body is nested {deepest} levels deep; at most {MAX_JSON_DEPTH}"
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the app answers with its own validation error
    if _has_surrogate(value):
        return "the request holds text that is not valid Unicode (a lone surrogate escape)"
    return None


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


async def _reply(send: Callable, status: int, error: str) -> None:
    data = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the plotly Python package (no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class Busy(BayesmatrixError):
    """The model is held by another request for longer than a request may wait."""


def allowed_models(allowed: Sequence[Path]) -> dict[str, Path]:
    """Model folders (with config.json) in the allowed folders, one level down (and each
    allowed folder itself when it is one), by the name the page shows: 'folder/model'."""
    found: dict[str, Path] = {}
    for root in allowed:
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
        for folder in candidates:
            if (folder / "config.json").is_file():
                name = root.name if folder == root else f"{root.name}/{folder.name}"
                found.setdefault(name, folder)
    return found


def create_app(
    allowed_dirs: Sequence[str | Path] = (),
    load: Callable[[str], Any] | None = None,
    max_prompt_chars: int = MAX_PROMPT_CHARS,
    hosts: Sequence[str] = LOCAL_HOSTS,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> Any:
    """The explorer app (an ASGI app); `load` defaults to bayesmatrix.load (tests may pass
    their own); only requests whose Host header names one of `hosts` are served; a request
    waits at most `lock_wait` seconds for the model."""
    from bayesmatrix import load as default_load

    loader = load or default_load
    allowed = [Path(d).resolve() for d in allowed_dirs]
    lock = threading.Lock()
    current: dict[str, Any] = {}
    app = FastAPI(title="bayesmatrix explorer", docs_url=None, redoc_url=None)

    def check_model(name: str) -> str:
        if name in MODELS:
            return name
        if name in listed:
            return str(listed[name])
        if "\x00" in name:
            raise BayesmatrixError("the model name contains a NUL byte")
        path = Path(name).expanduser().resolve()
        if any(path.is_relative_to(d) for d in allowed) and path.is_dir():
            return str(path)
        raise BayesmatrixError(
            f"model '{name}' is not allowed; use one of {', '.join([*MODELS, *listed])} or a "
            "model directory under a folder passed with --allow-dir"
        )

    listed = allowed_models(allowed)

    @contextmanager
    def model(name: str) -> Iterator[Any]:
        """The loaded model, held for one request (one in memory at a time); a request that
        waits longer than LOCK_WAIT_SECONDS for it is told the server is busy (503)."""
        key = check_model(name)
        if not lock.acquire(timeout=lock_wait):
            raise Busy(
                f"the model is busy with another request for over {lock_wait:.0f} s; retry later"
            )
        try:
            if key not in current:
                current.clear()
                current[key] = loader(key)
            yield current[key]
        finally:
            lock.release()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = "; ".join(
            f"{'.'.join(map(str, e['loc'][1:])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse({"error": errors}, status_code=422)

    @app.exception_handler(Busy)
    async def busy(_: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(BayesmatrixError)
    async def user_error(_: Request, exc: BayesmatrixError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return files("bayesmatrix.server").joinpath("static", "index.html").read_text()

    @app.get("/static/plotly.min.js")
    def plotly_file() -> FileResponse:
        return FileResponse(plotly_js(), media_type="application/javascript")

    @app.get("/static/app.js")
    def app_js() -> FileResponse:
        path = Path(str(files("bayesmatrix.server").joinpath("static", "app.js")))
        return FileResponse(path, media_type="application/javascript")

    @app.get("/api/models")
    def models() -> dict:
        """Named models and the model folders found in the allowed folders, by name (never
        their paths), and the names of the allowed folders."""
        return {"models": [*MODELS, *listed], "allowed_dirs": [d.name for d in allowed]}

    @app.get("/api/claims")
    def claims() -> dict:
        """The registered claims: what each checks and the rule its verdicts follow."""
        from bayesmatrix.claims import list_claims

        return {
            "claims": [
                {"name": c.name, "title": c.title, "description": c.description, "rule": c.rule}
                for c in list_claims()
            ]
        }

    @app.get("/api/task/{name}")
    def task(name: str) -> dict:
        from bayesmatrix.experiments.icl.tasks import builtin_tasks, get_task

        if name not in builtin_tasks():
            raise BayesmatrixError(f"unknown task '{name}'; shipped: {', '.join(builtin_tasks())}")
        t = get_task(name)
        return {
            "name": t.name,
            "label_words": t.label_words,
            "template": t.template,
            "instruction": t.instruction,
            "examples": [list(e) for e in t.examples],
        }

    @app.post("/api/trace")
    def trace(req: TraceRequest) -> dict:
        if len(req.prompt) > max_prompt_chars:
            raise BayesmatrixError(f"prompt is over {max_prompt_chars} characters; shorten it")
        with model(req.model) as lm:
            t = lm.trace(req.prompt, top_k=req.top_k)
        return {
            "model": t.model,
            "tokens": t.tokens,
            "token_ids": t.token_ids.tolist(),
            "bos_added": t.bos_added,
            "entropy_bits": t.entropy_bits.tolist(),
            "surprisal_bits": [None if np.isnan(x) else float(x) for x in t.surprisal_bits],
            "topk": [
                [{"token": tok, "prob": float(p)} for tok, p in zip(toks, probs, strict=True)]
                for toks, probs in zip(t.topk_tokens, t.topk_probs, strict=True)
            ],
        }

    @app.post("/api/icl")
    def icl(req: IclRequest) -> dict:
        from bayesmatrix.bayes.updating import fit_updating, predictive
        from bayesmatrix.experiments.icl.sweep import prequential_label_probs
        from bayesmatrix.experiments.icl.tasks import label_list
        from bayesmatrix.experiments.updating import NO_UPDATE_KAPPA

        total = sum(len(x) for x, _ in req.demos)
        if total > max_prompt_chars:
            raise BayesmatrixError(f"demonstrations are over {max_prompt_chars} characters")
        words = list(req.label_words.values())
        instruction = req.instruction.format(labels=label_list(words))
        with model(req.model) as lm:

            def read(demos: list[tuple[str, str]]) -> pd.DataFrame:
                return prequential_label_probs(
                    lm, demos, req.label_words, req.template, instruction=instruction
                )

            frame = read(req.demos)
            first = next(iter(req.label_words))
            zero = [float(read([(x, first)]).loc[0, f"p_{y}"]) for x, y in req.demos]
        p = np.clip(frame["p_true"].to_numpy(), 1e-4, 1 - 1e-4)
        prior = np.clip(np.asarray(zero), 1e-4, 1 - 1e-4)
        agree = np.ones((1, len(p)))
        fitted = fit_updating(p[None], prior[None], agree)  # as the icl claim fits kappa
        return {
            "k": frame["k"].tolist(),
            "p_label": p.tolist(),
            "zero_shot": prior.tolist(),
            "bayes_fit": predictive(prior[None], agree, fitted.kappa)[0].tolist(),
            # a fit at its bound is no number: null, and said so (the page shows "> 10^4")
            "kappa": None if fitted.kappa >= NO_UPDATE_KAPPA else fitted.kappa,
            "kappa_at_bound": bool(fitted.kappa >= NO_UPDATE_KAPPA),
            "label_mass_k0": float(frame.loc[0, "label_mass"]),
        }

    return Guard(app, hosts, MAX_BODY_BYTES)
