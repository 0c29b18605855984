"""vLLM behind the LanguageModel interface: the protocol of its `/v1/completions` requests
and replies (the capability ladder, rows, traces, sampling, streams), apart from how they
travel. Two transports carry it: HTTP to a server (models.vllm_server) and a pipe to vLLM's
engine in a worker process (models.vllm_engine). Torch-free: the tokenizer is read with
`tokenizers`.

Rows come from vLLM's `prompt_logprobs`: at every prompt position, the log-probabilities of the
top k tokens and of the actual one; with the server started with `--max-logprobs -1`, of every
token (full rows, exact entropy). With top-k rows only, a trace reports the top-k mass and
entropy bounds instead of an entropy. Hidden states are not available: a claim that needs them
stops with one line naming the missing capability.

Log-probabilities of chosen tokens (ICL label words, coin-flip digits) are read on the highest
rung of RUNGS that the server answers correctly, probed at connect against the per-prompt
reading; requests go out `concurrency` at a time (vLLM batches them) and are reassembled in
order. Sampling uses vLLM's own seeded sampler (`n` per request); streams (token-by-token
extension of many copies) read only the tokens they are asked for.

A reply is checked where it enters: a missing field, a row without the tokens asked for, or
a shape other than asked is one line naming the transport (`MalformedReply`); the values
themselves are checked by the LanguageModel interface (models.base).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from bayesmatrix.bayes.information import entropy
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.models.base import LanguageModel, Sample, cut_answer
from bayesmatrix.models.trace import Trace

BATCH = 8  # prompts per request
CONCURRENCY = 8  # requests in flight to one server (?concurrency=N overrides)
TOP_K = 20  # prompt log-probabilities per position on the top-k rung (at most the server's cap)
MAX_TOKEN_IDS = 128  # vLLM's limit on logprob_token_ids per request

# how log-probabilities of chosen tokens are read, fastest first: requests per context, as
# measured in docs/benchmarks.md (see VllmLanguageModel)
RUNGS = {
    "prompt-ids": "chosen ids scored at every prompt row, one pass per context "
    "(prompt_logprob_token_ids: vLLM's engine with the V2 model runner)",
    "top-k": f"the top {TOP_K} prompt log-probabilities, one pass per context; a token outside "
    "them is read on generated-ids (or with a prompt of its own)",
    "generated-ids": "chosen ids scored at a generated position, one request per prefix "
    "(logprob_token_ids, max_tokens=1; prefixes share the server's prefix cache)",
    "per-prompt": "one prompt per (prefix, token), prompt_logprobs of the actual tokens",
}


@dataclass(frozen=True)
class VllmLimits:
    """What a server allows: full_rows, every token's probability at every position (the
    server started with --max-logprobs -1, or a cap of at least the vocabulary); max_logprobs,
    its cap (-1: none); rungs, the RUNGS it answers correctly, best first (the first is used);
    concurrency, requests in flight; batch, prompts per request."""

    full_rows: bool
    max_logprobs: int
    rungs: tuple[str, ...] = ("per-prompt",)
    concurrency: int = CONCURRENCY
    batch: int = BATCH

    @property
    def rung(self) -> str:
        """The rung in use."""
        return self.rungs[0]

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities these limits give (hidden states never travel over HTTP)."""
        rows = {"full_rows"} if self.full_rows else set()
        return frozenset({"logprobs", "topk_rows", "sampling", "streams", *rows})


class MalformedReply(BayesmatrixError):
    """A reply that is not what the request asked for (a missing field, a row short of the
    tokens asked for): the transport's peer is not the vLLM it claims to be, or is broken."""


class Transport(Protocol):
    """How requests reach vLLM: `send` one /v1/completions body and return the reply; `where`
    names the peer in messages; `close` ends it (a no-op for a server we did not start)."""

    where: str

    def send(self, body: dict) -> dict: ...

    def close(self) -> None: ...


class VllmLanguageModel(LanguageModel):
    """LanguageModel whose rows vLLM reads, over a transport (see the module docstring).
    `identity`: what results depend on (models.reference: the server's description and a
    probe reading, or the engine's weights)."""

    def __init__(
        self,
        transport: Transport,
        served: str,
        tokenizer: object,
        max_len: int,
        vocab: int,
        limits: VllmLimits,
        identity: str,
    ) -> None:
        self.transport, self.served, self.limits = transport, served, limits
        self.capabilities = limits.capabilities
        self.tokenizer = tokenizer
        self.name = served
        self.identity = identity
        self.vocab_size = vocab
        self.context_length = max_len
        self._init_tokens(tokenizer)

    @property
    def base(self) -> str:
        """Where the model is read (a server's URL ending in /v1, or vllm:<folder>)."""
        return self.transport.where

    def __repr__(self) -> str:
        return f"VllmLanguageModel({self.served!r} at {self.base}, {self.limits})"

    def close(self) -> None:
        """End the transport (stops an engine this process started)."""
        self.transport.close()

    @property
    def rung(self) -> str:
        """How log-probabilities of chosen tokens are read (a key of RUNGS)."""
        return self.limits.rung

    @rung.setter
    def rung(self, name: str) -> None:
        if name not in self.limits.rungs:
            raise BayesmatrixError(
                f"{self.base} does not answer the '{name}' rung; it answers "
                f"{', '.join(self.limits.rungs)}"
            )
        rest = tuple(r for r in RUNGS if r in self.limits.rungs and r != name)
        self.limits = replace(self.limits, rungs=(name, *rest))

    def describe(self) -> dict[str, object]:
        """What this backend is and how it reads (shown by `bayesmatrix models --probe`)."""
        return {
            "backend": type(self).__name__,
            "transport": type(self.transport).__name__,
            "where": self.base,
            "model": self.served,
            "rows": "full" if self.limits.full_rows else f"top {self.limits.max_logprobs}",
            "rung": self.rung,
            "how": RUNGS[self.rung],
            "rungs answered": ", ".join(self.limits.rungs),
            "concurrency": self.limits.concurrency,
            "capabilities": ", ".join(sorted(self.capabilities)),
        }

    # ---- requests -------------------------------------------------------------------------
    def _send_all(self, bodies: list[dict]) -> list[dict]:
        """Send each body, `concurrency` at a time; the replies in order. The first failure
        stops the rest (queued requests are dropped)."""
        bodies = [{"model": self.served, "temperature": 0.0, "max_tokens": 1, **b} for b in bodies]
        if self.limits.concurrency <= 1 or len(bodies) <= 1:
            return [self.transport.send(b) for b in bodies]
        pool = ThreadPoolExecutor(min(self.limits.concurrency, len(bodies)))
        try:
            futures = [pool.submit(self.transport.send, b) for b in bodies]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def malformed(self, what: str) -> MalformedReply:
        """The error for a reply that is not what was asked for."""
        return MalformedReply(
            f"malformed reply from {self.base}: {what}; is it a vLLM server of the model "
            "named? (`bayesmatrix models --probe URL` shows what it answers)"
        )

    def _choices(self, reply: dict, count: int, key: str) -> list[dict]:
        listed = reply.get("choices") if isinstance(reply, dict) else None
        if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
            raise self.malformed("no list of choices")
        choices = sorted(listed, key=lambda c: c.get("index", 0))
        if len(choices) != count or any(c.get(key) is None for c in choices):
            raise self.malformed(f"{len(choices)} choices for {count} prompts, or no {key}")
        return choices

    def _chunks(self, items: list) -> list[list]:
        size = max(1, self.limits.batch)
        return [items[i : i + size] for i in range(0, len(items), size)]

    def _logprob_map(self, row: object, what: str) -> dict[int, float]:
        """{token id: log-probability} of one row of a reply (keys 'N' or 'token_id:N';
        values numbers or {"logprob": x}); anything else is a malformed reply."""
        if row is None:
            return {}
        if not isinstance(row, dict):
            raise self.malformed(f"a {what} row that is not a mapping of tokens")
        try:
            return {
                _token_id(t): float(v["logprob"] if isinstance(v, dict) else v)
                for t, v in row.items()
            }
        except (KeyError, TypeError, ValueError):
            raise self.malformed(
                f"a {what} row whose entries are not token log-probabilities"
            ) from None

    def _prompt_logprobs(self, prompts: list[list[int]], k: int) -> list[list[dict[int, float]]]:
        """Per prompt, per position i >= 1: {token id: logprob} of the row that predicts token
        i (top k and the actual token; every token when k == -1). A row must hold the token
        it predicts, and all `vocab_size` of them when every one was asked for."""
        cap = self.limits.max_logprobs
        if k != -1 and cap != -1 and k > cap:
            raise CapabilityError(
                f"{k} log-probabilities per position asked for, the server allows {cap}; "
                f"restart it with --max-logprobs {k} (or -1)"
            )
        chunks = self._chunks(prompts)
        replies = self._send_all([{"prompt": c, "prompt_logprobs": k} for c in chunks])
        out: list[list[dict[int, float]]] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            for ids, choice in zip(
                chunk, self._choices(reply, len(chunk), "prompt_logprobs"), strict=True
            ):
                listed = choice["prompt_logprobs"]
                if not isinstance(listed, list) or len(listed) != len(ids):
                    raise self.malformed(f"prompt_logprobs for {len(ids)} prompt tokens expected")
                rows = [self._logprob_map(row, "prompt_logprobs") for row in listed[1:]]
                for i, row in enumerate(rows):
                    if ids[i + 1] not in row:
                        raise self.malformed("a prompt row without the token it predicts")
                    if k == -1 and len(row) < self.vocab_size:
                        raise self.malformed(
                            f"a full row asked for, {len(row)} of {self.vocab_size} tokens given"
                        )
                out.append(rows)
        return out

    def _generated(self, contexts: list[list[int]], tokens: list[int]) -> np.ndarray:
        """[contexts, tokens] log P(token | context), read at the first generated position
        (logprob_token_ids; the generated token itself is discarded)."""
        out = np.empty((len(contexts), len(tokens)))
        limit = MAX_TOKEN_IDS if self.limits.max_logprobs == -1 else self.limits.max_logprobs
        groups = [tokens[i : i + max(1, limit)] for i in range(0, len(tokens), max(1, limit))]
        chunks = self._chunks(list(range(len(contexts))))
        jobs = [(c, g) for g in groups for c in chunks]
        bodies = [
            {
                "prompt": [contexts[i] for i in c], "logprobs": len(g), "logprob_token_ids": g,
                "return_tokens_as_token_ids": True,
            }
            for c, g in jobs
        ]  # fmt: skip
        for (chunk, group), reply in zip(jobs, self._send_all(bodies), strict=True):
            for i, choice in zip(chunk, self._choices(reply, len(chunk), "logprobs"), strict=True):
                read = self._logprob_map(_first_row(choice), "logprobs")
                if any(t not in read for t in group):
                    raise self.malformed("logprob_token_ids not answered")
                out[i, [tokens.index(t) for t in group]] = [read[t] for t in group]
        return out

    def _last_rows(self, contexts: list[list[int]], k: int) -> list[dict[int, float]]:
        """Per context, {token id: logprob} of its next-token row (top k; all when k == -1),
        read at the generated position: one row per context, not one per prompt position."""
        chunks = self._chunks(contexts)
        bodies = [{"prompt": c, "logprobs": k, "return_tokens_as_token_ids": True} for c in chunks]
        out = []
        for chunk, reply in zip(chunks, self._send_all(bodies), strict=True):
            for choice in self._choices(reply, len(chunk), "logprobs"):
                row = self._logprob_map(_first_row(choice), "top_logprobs")
                if not row:
                    raise self.malformed("no top_logprobs")
                if k == -1 and len(row) < self.vocab_size:
                    raise self.malformed(
                        f"a full row asked for, {len(row)} of {self.vocab_size} tokens given"
                    )
                out.append(row)
        return out

    def _scored(self, prompts: list[list[int]], tokens: list[int]) -> list[np.ndarray]:
        """Per prompt, [len - 1, tokens]: row i scores the tokens as predictions of token i + 1
        (prompt_logprob_token_ids)."""
        chunks = self._chunks(prompts)
        bodies = [{"prompt": c, "prompt_logprob_token_ids": tokens} for c in chunks]
        out = []
        for chunk, reply in zip(chunks, self._send_all(bodies), strict=True):
            for ids, choice in zip(
                chunk, self._choices(reply, len(chunk), "prompt_token_id_logprobs"), strict=True
            ):
                try:
                    rows = np.asarray(choice["prompt_token_id_logprobs"], dtype=float)
                except (TypeError, ValueError):
                    raise self.malformed("prompt_token_id_logprobs that are not numbers") from None
                if rows.shape != (len(ids) - 1, len(tokens)):
                    raise self.malformed(f"prompt_token_id_logprobs of shape {rows.shape}")
                out.append(rows)
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
        rows = self._last_rows(prepared, -1)
        return np.stack([self._dense(r) for r in rows]).astype(np.float32)

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
        entropies = np.full(n, np.nan)
        bounds = np.full((n, 2), np.nan)
        topk_ids = np.zeros((n, top_k), dtype=np.int64)
        topk_probs = np.zeros((n, top_k), dtype=np.float32)
        dense = np.zeros((n, self.vocab_size), dtype=np.float32) if keep else None
        for i, row in enumerate(reply):
            if i + 1 < n:
                logprob[i] = row[ids[i + 1]]
            order = sorted(row, key=lambda t: row[t], reverse=True)
            p_top = np.exp([row[t] for t in order])
            topk_ids[i] = order[:top_k]
            topk_probs[i] = p_top[:top_k]
            if self.limits.full_rows:
                entropies[i] = float(entropy(p_top))
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
            entropy=entropies,
            topk_ids=topk_ids,
            topk_probs=topk_probs,
            topk_tokens=[self.decode_tokens(r.tolist()) for r in topk_ids],
            rows=dense,
            entropy_bounds=None if self.limits.full_rows else bounds,
        )

    def continuation_logprobs(
        self, ids: Sequence[int], requests: Sequence[tuple[int, Sequence[int]]]
    ) -> np.ndarray:
        """log P(tokens | ids[:cut]) for each (cut, tokens), single tokens read on the rung in
        use (RUNGS) and multi-token requests with one prompt each."""
        return self.continuation_logprobs_many([(ids, requests)])[0]

    def continuation_logprobs_many(
        self, items: Sequence[tuple[Sequence[int], Sequence[tuple[int, Sequence[int]]]]]
    ) -> list[np.ndarray]:
        """continuation_logprobs over several contexts, whose requests go out together
        (concurrently, `batch` prompts per request) instead of one context after another."""
        prepared = []
        for ids, requests in items:
            ids = self._fit_window([int(i) for i in ids], False, None)
            if any(not 1 <= cut <= len(ids) or not toks for cut, toks in requests):
                raise BayesmatrixError(f"each request needs 1 <= cut <= {len(ids)} and tokens")
            prepared.append((ids, [(int(c), [int(t) for t in toks]) for c, toks in requests]))
        return self._read_many(prepared)

    def _read(
        self, ids: list[int], requests: list[tuple[int, list[int]]], rung: str = ""
    ) -> np.ndarray:
        return self._read_many([(ids, requests)], rung)[0]

    def _read_many(
        self, items: list[tuple[list[int], list[tuple[int, list[int]]]]], rung: str = ""
    ) -> list[np.ndarray]:
        """Readings of (context, requests) items on a rung (default: the one in use). On top-k,
        a token outside a row's top k is read on generated-ids when the server answers it (one
        request per prefix), else with a prompt of its own."""
        rung = rung or self.rung
        if rung not in RUNGS:
            raise BayesmatrixError(f"unknown rung '{rung}'; rungs: {', '.join(RUNGS)}")
        results = [np.full(len(requests), np.nan) for _, requests in items]
        pairs = [(c, i) for c, (_, requests) in enumerate(items) for i in range(len(requests))]
        single = [(c, i) for c, i in pairs if len(items[c][1][i][1]) == 1]
        rest = [(c, i) for c, i in pairs if len(items[c][1][i][1]) != 1]
        if rung == "per-prompt":
            rest, single = pairs, []
        elif rung == "prompt-ids" and single:
            firsts = sorted({items[c][1][i][1][0] for c, i in single})
            tables = self._scored([[*ids, self._filler()] for ids, _ in items], firsts)
            for c, i in single:
                cut, (tok,) = items[c][1][i]
                results[c][i] = tables[c][cut - 1, firsts.index(tok)]
            single = []
        elif rung == "top-k" and single:
            contexts = sorted({c for c, _ in single})
            read = self._prompt_logprobs(
                [[*items[c][0], self._filler()] for c in contexts], self._top_k()
            )
            rows = dict(zip(contexts, read, strict=True))
            missed = []
            for c, i in single:
                cut, (tok,) = items[c][1][i]
                if tok in rows[c][cut - 1]:
                    results[c][i] = rows[c][cut - 1][tok]
                else:
                    missed.append((c, i))
            single = missed
            if "generated-ids" not in self.limits.rungs:
                rest, single = rest + single, []
        if single:  # generated-ids: one request per distinct prefix, every chosen token at once
            prefixes = sorted({(c, items[c][1][i][0]) for c, i in single})
            firsts = sorted({items[c][1][i][1][0] for c, i in single})
            table = self._generated([items[c][0][:cut] for c, cut in prefixes], firsts)
            where = {prefix: j for j, prefix in enumerate(prefixes)}
            for c, i in single:
                cut, (tok,) = items[c][1][i]
                results[c][i] = table[where[(c, cut)], firsts.index(tok)]
        if rest:
            prompts = [items[c][0][: items[c][1][i][0]] + items[c][1][i][1] for c, i in rest]
            for (c, i), reply in zip(rest, self._prompt_logprobs(prompts, 0), strict=True):
                cut, toks = items[c][1][i]
                results[c][i] = sum(reply[cut - 1 + j][t] for j, t in enumerate(toks))
        return results

    def _top_k(self) -> int:
        cap = self.limits.max_logprobs
        return TOP_K if cap == -1 else min(TOP_K, cap)

    def _next_logprobs(self, contexts: list[list[int]], tokens: list[int]) -> np.ndarray:
        """[contexts, tokens] log P(token | context): at a generated position when the server
        answers that rung, else with one prompt per (context, token)."""
        if "generated-ids" in self.limits.rungs:
            return self._generated(contexts, tokens)
        prompts = [[*c, t] for c in contexts for t in tokens]
        rows = self._prompt_logprobs(prompts, 0)
        values = [row[-1][t] for row, t in zip(rows, tokens * len(contexts), strict=True)]
        return np.array(values).reshape(len(contexts), len(tokens))

    def stream(
        self, ids: Sequence[int], copies: int = 1, tokens: Sequence[int] | None = None
    ) -> VllmStream:
        """Copies of a context extended token by token; a served model reads only `tokens`
        of each next-token row (the others are NaN), so `tokens` is required here."""
        if not tokens:
            raise BayesmatrixError(
                f"{self.name} is served: a stream reads only chosen tokens; pass tokens=[ids]"
            )
        return VllmStream(self, [int(i) for i in ids], copies, [int(t) for t in tokens])

    def sample(
        self,
        context: str,
        n: int,
        max_new_tokens: int = 16,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> list[Sample]:
        """n continuations sampled by the server (seeded, one request), cut as the HF backend
        cuts them (models.hf: a token containing a newline ends an answer once it has content;
        EOS ends it). The rows up to each first content token are read with one more request
        per distinct prefix, to give what the HF backend gives: log-probabilities and the
        content row with EOS masked and renormalised, the row's entropy (full rows only; NaN
        on a capped server) and top-1 probability. One difference: vLLM masks EOS while
        sampling the first token only, the HF backend until content, so an answer of
        whitespace then EOS is possible here (rare)."""
        if n < 1 or max_new_tokens < 1 or temperature < 0:
            raise BayesmatrixError("sample needs n >= 1, max_new_tokens >= 1, temperature >= 0")
        ids, _ = self._prepare(context, None, "left")
        body = {
            "prompt": [ids], "n": n, "max_tokens": max_new_tokens, "temperature": temperature,
            "seed": seed, "min_tokens": 1, "logprobs": 0, "return_tokens_as_token_ids": True,
        }  # fmt: skip
        (reply,) = self._send_all([body])
        eos: Any = getattr(self.tokenizer, "eos_token_id", None)
        drawn = []
        for choice in self._choices(reply, n, "logprobs"):
            try:
                tokens = [_token_id(t) for t in choice["logprobs"]["tokens"]]
                logps = [float(x) for x in choice["logprobs"]["token_logprobs"]]
            except (KeyError, TypeError, ValueError):
                raise self.malformed("sampled tokens without their log-probabilities") from None
            if len(tokens) != len(logps) or not tokens:
                raise self.malformed("sampled tokens and log-probabilities of other lengths")
            kept, first = cut_answer(tokens, lambda t: self.tokenizer.decode([t]), eos)
            drawn.append((tokens[:kept], logps[:kept], first))
        # the rows up to each first content token, EOS masked as the HF backend masks it
        wanted = sorted(
            {tuple(t[:m]) for t, _, f in drawn for m in range(len(t) if f is None else f + 1)}
        )
        k = -1 if self.limits.full_rows else self._top_k()
        replies = self._last_rows([[*ids, *w] for w in wanted], k)
        rows = dict(zip(wanted, replies, strict=True))
        samples = []
        for tokens, read, first in drawn:
            masked = np.array(read)
            for m in range(len(tokens) if first is None else first + 1):
                masked[m] -= math.log1p(-math.exp(rows[tuple(tokens[:m])].get(eos, -math.inf)))
            stats = (float("nan"), float("nan"))
            if first is not None:
                row = rows[tuple(tokens[:first])]
                p = np.exp(np.array([v for t, v in row.items() if t != eos]))
                p /= 1.0 - math.exp(row.get(eos, -math.inf))
                h = float(entropy(p))
                stats = (h if k == -1 else float("nan"), float(p.max()))
            samples.append(Sample(tokens, self.tokenizer.decode(tokens), masked, *stats))
        return samples

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


class VllmStream:
    """Copies of one context extended token by token over a server (made by
    VllmLanguageModel.stream): each feed sends one request per copy (batched and concurrent),
    reading the chosen tokens of each copy's next-token row."""

    def __init__(self, lm: VllmLanguageModel, ids: list[int], copies: int, tokens: list[int]):
        if copies < 1 or not ids:
            raise BayesmatrixError("a stream needs a non-empty context and at least one copy")
        self.lm, self.copies, self.tokens = lm, copies, tokens
        self.contexts = [list(ids) for _ in range(copies)]
        self.length = len(ids)
        self.logprobs = self._read()

    def _read(self) -> np.ndarray:
        table = self.lm._next_logprobs(self.contexts, self.tokens)
        rows = np.full((self.copies, self.lm.vocab_size), np.nan)
        rows[:, self.tokens] = table
        return rows

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        """Append tokens [copies, L] and return [copies, V] next-token log-probabilities (the
        chosen tokens' columns; NaN elsewhere), also kept as .logprobs."""
        tokens = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
        if tokens.shape[0] != self.copies or tokens.shape[1] < 1:
            raise BayesmatrixError(f"feed needs tokens of shape [{self.copies}, L >= 1]")
        if self.length + tokens.shape[1] >= self.lm.context_length:
            raise BayesmatrixError(
                f"the stream would exceed {self.lm.name}'s window of {self.lm.context_length}"
            )
        for context, row in zip(self.contexts, tokens.tolist(), strict=True):
            context.extend(row)
        self.length += tokens.shape[1]
        self.logprobs = self._read()
        return self.logprobs


def _token_id(text: object) -> int:
    """A token id from vLLM's 'token_id:N' (return_tokens_as_token_ids) or 'N'."""
    return int(str(text).rsplit(":", 1)[-1])


def _first_row(choice: dict) -> object:
    """The first generated position's top_logprobs of a choice (None when absent)."""
    logprobs = choice.get("logprobs")
    rows = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    return rows[0] if isinstance(rows, list) and rows else None


def probe_rungs(lm: VllmLanguageModel) -> tuple[str, ...]:
    """The RUNGS this server answers, best first: each is asked for a few readings and kept
    only if it answers them as the per-prompt rung does (to 1e-3); a refused or ignored field
    drops the rung."""
    ids = lm.with_bos(lm.encode("The capital of France is Paris. The capital of Italy is"))
    tokens = sorted({ids[-1], ids[-2], ids[2]})
    requests = [(cut, [t]) for cut in (len(ids) - 1, len(ids)) for t in tokens]
    try:
        reference = lm._read(ids, requests, "per-prompt")
    except BayesmatrixError:  # nothing to compare with: the first reading will say why
        return ("per-prompt",)
    found = []
    for rung in RUNGS:
        if rung == "per-prompt" or (rung == "top-k" and lm.limits.max_logprobs == 0):
            continue
        try:
            values = lm._read(ids, requests, rung)
        except BayesmatrixError:
            continue
        if np.allclose(values, reference, atol=1e-3, rtol=0):
            found.append(rung)
    return (*found, "per-prompt")


def entropy_bounds(top: np.ndarray, vocab: int) -> tuple[float, float]:
    """Bounds (nats) on the entropy of a distribution over `vocab` tokens of which only the
    largest probabilities `top` (descending) are known: the unseen mass r = 1 - sum(top) is
    spread evenly over the other tokens (upper bound) or packed into as few tokens as the
    smallest known probability allows (lower bound)."""
    top = np.asarray(top, dtype=np.float64)
    known = float(entropy(top))
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
