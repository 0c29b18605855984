"""FastAPI app of the explorer: trace a prompt, look at rows, watch in-context learning.

Safe by default: the CLI binds to localhost; model names are restricted to the registry and to
directories the user allowed (no arbitrary file reads); bodies and prompts are size-limited;
one model is in memory at a time and requests that need it queue on a lock; user errors are
400 JSON responses and unexpected ones 500 JSON, so the server keeps running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.registry import MODELS

MAX_BODY_BYTES = 64 * 1024
MAX_PROMPT_CHARS = 4000
MAX_DEMOS = 64


class TraceRequest(BaseModel):
    model: str
    prompt: str = Field(min_length=1)
    top_k: int = Field(default=10, ge=1, le=50)


class IclRequest(BaseModel):
    model: str
    demos: list[tuple[str, str]] = Field(min_length=1, max_length=MAX_DEMOS)
    label_words: dict[str, str]


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the plotly Python package (no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(
    allowed_dirs: Sequence[str | Path] = (),
    load: Callable[[str], Any] | None = None,
    max_prompt_chars: int = MAX_PROMPT_CHARS,
) -> FastAPI:
    """The explorer app; `load` defaults to bayesmatrix.load (tests may pass their own)."""
    from bayesmatrix import load as default_load

    loader = load or default_load
    allowed = [Path(d).resolve() for d in allowed_dirs]
    lock = threading.Lock()
    current: dict[str, Any] = {}
    app = FastAPI(title="bayesmatrix explorer", docs_url=None, redoc_url=None)

    def check_model(name: str) -> str:
        if name in MODELS:
            return name
        path = Path(name).expanduser().resolve()
        if any(path.is_relative_to(d) for d in allowed) and path.is_dir():
            return str(path)
        raise BayesmatrixError(
            f"model '{name}' is not allowed; use one of {', '.join(MODELS)} or a model directory "
            "under a folder passed with --allow-dir"
        )

    def model(name: str) -> Any:
        """The loaded model (call with the lock held); one in memory at a time."""
        key = check_model(name)
        if key not in current:
            current.clear()
            current[key] = loader(key)
        return current[key]

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable) -> Any:
        size = request.headers.get("content-length")
        if size is not None and int(size) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"request body over {MAX_BODY_BYTES} bytes"}, 413)
        return await call_next(request)

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

    @app.get("/api/models")
    def models() -> dict:
        return {"models": list(MODELS), "allowed_dirs": [str(d) for d in allowed]}

    @app.get("/api/task/{name}")
    def task(name: str) -> dict:
        from bayesmatrix.experiments.icl_tasks import builtin_tasks, get_task

        if name not in builtin_tasks():
            raise BayesmatrixError(f"unknown task '{name}'; shipped: {', '.join(builtin_tasks())}")
        t = get_task(name)
        return {
            "name": t.name,
            "label_words": t.label_words,
            "examples": [list(e) for e in t.examples],
        }

    @app.post("/api/trace")
    def trace(req: TraceRequest) -> dict:
        if len(req.prompt) > max_prompt_chars:
            raise BayesmatrixError(f"prompt is over {max_prompt_chars} characters; shorten it")
        with lock:
            lm = model(req.model)
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
        from bayesmatrix.bayes import BetaBernoulliLearner
        from bayesmatrix.experiments.icl import prequential_label_probs

        total = sum(len(x) for x, _ in req.demos)
        if total > max_prompt_chars:
            raise BayesmatrixError(f"demonstrations are over {max_prompt_chars} characters")
        with lock:
            lm = model(req.model)
            frame = prequential_label_probs(lm, req.demos, req.label_words)
            first = next(iter(req.label_words))
            zero = [
                float(prequential_label_probs(lm, [(x, first)], req.label_words).loc[0, f"p_{y}"])
                for x, y in req.demos
            ]
        p = np.clip(frame["p_true"].to_numpy(), 1e-4, 1 - 1e-4)
        prior = np.clip(np.asarray(zero), 1e-4, 1 - 1e-4)
        fitted = BetaBernoulliLearner(prior[None]).fit(p[None], np.ones((1, len(p))), bootstrap=0)
        return {
            "k": frame["k"].tolist(),
            "p_label": p.tolist(),
            "zero_shot": prior.tolist(),
            "bayes_fit": fitted.predict(np.ones((1, len(p))))[0].tolist(),
            "kappa": fitted.strength,
            "kl_bits": fitted.fit_.kl_bits,
        }

    return app
