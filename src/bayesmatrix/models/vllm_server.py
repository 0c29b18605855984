"""A vLLM server (OpenAI-compatible `/v1/completions`) behind the LanguageModel interface,
without torch (HTTP with the standard library, the tokenizer read with `tokenizers`).

Rows come from vLLM's `prompt_logprobs`: at every prompt position, the log-probabilities of the
top k tokens and of the actual one; with the server started with `--max-logprobs -1`, of every
token (full rows, exact entropy). With top-k rows only, a trace reports the top-k mass and
entropy bounds instead of an entropy. Hidden states are not available: a claim that needs them
stops with one line naming the missing capability.

Reference: `bayesmatrix.load("http://127.0.0.1:8000/v1?model=NAME")` (or model=... as an
argument); the tokenizer is read locally (the served model's folder, or `tokenizer=`).
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.models.base import LanguageModel
from bayesmatrix.models.trace import Trace

BATCH = 8  # prompts per request
DEFAULT_SERVER_CAP = 20  # vLLM's --max-logprobs when not set; ?max_logprobs=K overrides
RETRIES = 4  # on connection errors and 5xx, with exponential backoff


@dataclass(frozen=True)
class ServerLimits:
    """What a server allows: full_rows, every token's probability at every position (the
    server started with --max-logprobs -1, or a cap of at least the vocabulary); max_logprobs,
    its cap (-1: none)."""

    full_rows: bool
    max_logprobs: int

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities these limits give (hidden states never travel over HTTP)."""
        rows = {"full_rows"} if self.full_rows else set()
        return frozenset({"logprobs", "topk_rows", *rows})


def is_remote(reference: object) -> bool:
    return str(reference).startswith(("http://", "https://"))


def parse_reference(reference: str, model: str | None = None) -> tuple[str, str | None, dict]:
    """(base URL ending in /v1, served model name or None, other query options)."""
    parts = urllib.parse.urlsplit(reference)
    query = dict(urllib.parse.parse_qsl(parts.query))
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if not base.endswith("/v1"):
        base += "/v1"
    return base, model or query.pop("model", None), query


class ServerLanguageModel(LanguageModel):
    """LanguageModel whose rows are read from a vLLM server (see the module docstring)."""

    def __init__(
        self,
        base: str,
        served: str,
        tokenizer: object,
        max_len: int,
        vocab: int,
        limits: ServerLimits,
    ) -> None:
        self.base, self.served, self.limits = base, served, limits
        self.capabilities = limits.capabilities
        self.tokenizer = tokenizer
        self.name = served
        self.identity = f"remote:{base}:{served}"
        self.vocab_size = vocab
        self.context_length = max_len
        self._init_tokens(tokenizer)

    def __repr__(self) -> str:
        return f"ServerLanguageModel({self.served!r} at {self.base}, {self.limits})"

    # ---- HTTP ---------------------------------------------------------------------------
    def _post(self, path: str, body: dict) -> dict:
        return request(self.base + path, body)

    def _prompt_logprobs(self, prompts: list[list[int]], k: int) -> list[list[dict]]:
        """Per prompt, per position i >= 1: {token id: logprob} of the row that predicts token
        i (top k and the actual token; every token when k == -1)."""
        cap = self.limits.max_logprobs
        if k != -1 and cap != -1 and k > cap:
            raise CapabilityError(
                f"{k} log-probabilities per position asked for, the server allows {cap}; "
                f"restart it with --max-logprobs {k} (or -1)"
            )
        out: list[list[dict]] = []
        for start in range(0, len(prompts), BATCH):
            chunk = prompts[start : start + BATCH]
            body = {"model": self.served, "prompt": chunk, "max_tokens": 1, "temperature": 0.0}
            reply = self._post("/completions", {**body, "prompt_logprobs": k})
            choices = sorted(reply.get("choices", []), key=lambda c: c.get("index", 0))
            if len(choices) != len(chunk) or any("prompt_logprobs" not in c for c in choices):
                raise BayesmatrixError(f"malformed reply from {self.base}: no prompt_logprobs")
            for choice in choices:
                rows = choice["prompt_logprobs"][1:]
                out.append(
                    [{int(t): float(v["logprob"]) for t, v in (row or {}).items()} for row in rows]
                )
        return out

    # ---- readings -------------------------------------------------------------------------
    def require(self, capability: str) -> None:
        """As LanguageModel.require, saying how to get full rows from a server."""
        if capability == "full_rows" and not self.limits.full_rows:
            raise CapabilityError(
                f"{self.name} gives no full rows (the server caps logprobs at "
                f"{self.limits.max_logprobs}); start the vLLM server with --max-logprobs -1"
            )
        super().require(capability)

    def next_rows(self, sources: Sequence[str | Sequence[int]], batch_size: int = 8) -> np.ndarray:
        self.require("full_rows")
        prepared = [self._prepare(s, None, None)[0] for s in sources]
        rows = self._prompt_logprobs([[*ids, self._filler()] for ids in prepared], -1)
        return np.stack([self._dense(r[-1]) for r in rows]).astype(np.float32)

    def _filler(self) -> int:
        """Any token: appended so that the row after the whole prompt is a prompt row."""
        return 0

    def _dense(self, row: dict[int, float]) -> np.ndarray:
        p = np.zeros(self.vocab_size)
        ids = np.fromiter(row, dtype=np.int64)
        p[ids] = np.exp(np.fromiter(row.values(), dtype=np.float64))
        return p

    def trace_many(
        self,
        sources: Sequence[str | Sequence[int]],
        batch_size: int = 8,
        top_k: int = 5,
        rows: object = False,
        hidden_layers: Sequence[int] | None = None,
        add_bos: bool | None = None,
        truncate: str | None = None,
    ) -> list[Trace]:
        """Traces as the HF backend gives them; with top-k rows only, entropy is NaN and
        `entropy_bounds` [n, 2] holds what the top-k mass allows."""
        if hidden_layers:
            self.require("hidden_states")
        if rows is not False:
            self.require("full_rows")
        if not 0 <= top_k <= self.vocab_size:
            raise BayesmatrixError(f"top_k must be in [0, {self.vocab_size}], not {top_k}")
        prepared = [self._prepare(s, add_bos, truncate) for s in sources]
        k = -1 if self.limits.full_rows else max(top_k, 1)
        replies = self._prompt_logprobs([[*ids, self._filler()] for ids, _ in prepared], k)
        return [
            self._trace(ids, bos, reply, top_k, rows is not False)
            for (ids, bos), reply in zip(prepared, replies, strict=True)
        ]

    def _trace(self, ids: list[int], bos: bool, reply: list[dict], top_k: int, keep: bool) -> Trace:
        n = len(ids)
        logprob = np.full(n, np.nan)
        entropy = np.full(n, np.nan)
        bounds = np.full((n, 2), np.nan)
        topk_ids = np.zeros((n, top_k), dtype=np.int64)
        topk_probs = np.zeros((n, top_k), dtype=np.float32)
        dense = np.zeros((n, self.vocab_size), dtype=np.float32) if keep else None
        for i, row in enumerate(reply):
            if i + 1 < n:
                logprob[i] = row[ids[i + 1]]
            order = sorted(row, key=row.get, reverse=True)
            p_top = np.exp([row[t] for t in order])
            topk_ids[i] = order[:top_k]
            topk_probs[i] = p_top[:top_k]
            if self.limits.full_rows:
                entropy[i] = float(-(p_top * np.log(np.maximum(p_top, 1e-300))).sum())
                if dense is not None:
                    dense[i] = self._dense(row)
            else:
                shown = p_top[: max(top_k, 1)]
                bounds[i] = entropy_bounds(shown, self.vocab_size)
        return Trace(
            model=self.name,
            token_ids=np.asarray(ids, dtype=np.int64),
            tokens=self.decode_tokens(ids),
            bos_added=bos,
            logprob_next=logprob,
            entropy=entropy,
            topk_ids=topk_ids,
            topk_probs=topk_probs,
            topk_tokens=[self.decode_tokens(r) for r in topk_ids],
            rows=dense,
            entropy_bounds=None if self.limits.full_rows else bounds,
        )

    def continuation_logprobs(
        self, ids: Sequence[int], requests: Sequence[tuple[int, Sequence[int]]]
    ) -> np.ndarray:
        """log P(tokens | ids[:cut]) for each (cut, tokens): one prompt per request (the server's
        prefix cache shares the common context)."""
        ids = self._fit_window([int(i) for i in ids], False, None)
        if any(not 1 <= cut <= len(ids) or not toks for cut, toks in requests):
            raise BayesmatrixError(f"each request needs 1 <= cut <= {len(ids)} and tokens")
        prompts = [ids[:cut] + [int(t) for t in toks] for cut, toks in requests]
        replies = self._prompt_logprobs(prompts, 0)
        return np.array(
            [
                sum(reply[cut - 1 + j][int(t)] for j, t in enumerate(toks))
                for (cut, toks), reply in zip(requests, replies, strict=True)
            ]
        )

    def score_split(self, prepared: list[tuple[list[int], int]], batch_size: int = 8) -> np.ndarray:
        for ids, _ in prepared:
            self._fit_window(ids, False, None)
        replies = self._prompt_logprobs([ids for ids, _ in prepared], 0)
        return np.array(
            [
                sum(reply[j - 1][ids[j]] for j in range(split, len(ids)))
                for (ids, split), reply in zip(prepared, replies, strict=True)
            ]
        )


def entropy_bounds(top: np.ndarray, vocab: int) -> tuple[float, float]:
    """Bounds (nats) on the entropy of a distribution over `vocab` tokens of which only the
    largest probabilities `top` (descending) are known: the unseen mass r = 1 - sum(top) is
    spread evenly over the other tokens (upper bound) or packed into as few tokens as the
    smallest known probability allows (lower bound)."""
    top = np.asarray(top, dtype=np.float64)
    known = float(-(top * np.log(np.maximum(top, 1e-300))).sum())
    rest, others = max(0.0, 1.0 - float(top.sum())), vocab - len(top)
    if rest <= 0 or others <= 0:
        return known, known
    upper = known - rest * math.log(rest / others)
    cap = float(top[-1])
    full, remainder = divmod(rest, cap) if cap > 0 else (0.0, rest)
    lower = known - full * cap * math.log(cap) if full else known
    if remainder > 0:
        lower -= remainder * math.log(remainder)
    return lower, upper


def request(url: str, body: dict | None = None, timeout: float = 300.0) -> dict:
    """POST (or GET without a body) JSON with retries on connection errors and 5xx; a 4xx is one
    clear error line (the server's own message, and the flag that fixes a logprobs cap)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    for attempt in range(RETRIES + 1):
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, data=data, headers=headers), timeout=timeout
            ) as response:
                return json.loads(response.read())
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
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            error = str(getattr(exc, "reason", exc))
        except json.JSONDecodeError:
            raise BayesmatrixError(f"{url} answered with something that is not JSON") from None
        if attempt < RETRIES:
            time.sleep(0.5 * 2**attempt)
    raise BayesmatrixError(
        f"cannot reach the model server at {url} ({error}) after {RETRIES + 1} tries; is it "
        "running? (vllm serve ... --host 127.0.0.1 --port N)"
    )


def connect(
    reference: str, model: str | None = None, tokenizer: str | None = None
) -> ServerLanguageModel:
    """A RemoteLanguageModel for a vLLM server: checks the served model exists, reads the
    server's context length and logprobs cap, and loads the tokenizer locally."""
    from bayesmatrix.models.tokenizer import load_tokenizer

    base, served, options = parse_reference(reference, model)
    tokenizer = tokenizer or options.get("tokenizer")
    listed = request(base + "/models").get("data", [])
    names = [m.get("id") for m in listed]
    if served is None:
        if len(names) != 1:
            raise BayesmatrixError(f"{base} serves {names}; name one with ?model=NAME")
        served = names[0]
    if served not in names:
        raise BayesmatrixError(f"{base} does not serve '{served}'; it serves {', '.join(names)}")
    info = listed[names.index(served)]
    root = tokenizer or info.get("root") or served
    tok = load_tokenizer(root)
    config = Path(str(root)) / "config.json"
    vocab = len(tok)  # type: ignore[arg-type]
    if config.is_file():
        vocab = int(json.loads(config.read_text()).get("vocab_size", vocab))
    if "max_logprobs" in options:
        cap = int(options["max_logprobs"])
    else:  # the server does not report its cap: ask for a full row and see
        probe = {"model": served, "prompt": [[0, 0]], "max_tokens": 1, "prompt_logprobs": -1}
        try:
            request(base + "/completions", probe)
            cap = -1
        except BayesmatrixError as exc:
            if "logprobs" not in str(exc):
                raise
            found = re.search(r"max allowed: (\d+)", str(exc))
            cap = int(found.group(1)) if found else DEFAULT_SERVER_CAP
    limits = ServerLimits(full_rows=cap == -1 or cap >= vocab, max_logprobs=cap)
    return ServerLanguageModel(
        base, served, tok, int(info.get("max_model_len", 2048)), vocab, limits
    )
