"""The LanguageModel interface every backend implements, without torch: tokenisation and the
scoring built on it live here; readings (rows, scores of token ids, samples, hidden states)
are the backends' (models.hf, models.vllm_server, models.vllm_engine, and learners by
construction). A method whose capability a backend lacks raises CapabilityError naming it
(see models.backends.CAPABILITIES), and `capabilities` says, per instance, what it has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.models.backends import capability_message
from bayesmatrix.models.checks import CHECKS, checked

if TYPE_CHECKING:
    from bayesmatrix.models.trace import Trace


def starts_answer(text: str) -> bool:
    """Whether a sampled token gives an answer content (anything but whitespace)."""
    return bool(text.strip())


def ends_answer(token: int, text: str, started: bool, eos: int | None) -> bool:
    """The sampling stop rule of every backend: EOS ends an answer, and so does a token
    containing a newline once the answer has content (that token is not kept)."""
    return token == eos or (started and "\n" in text)


def cut_answer(
    tokens: Sequence[int], decode: Callable[[int], str], eos: int | None
) -> tuple[int, int | None]:
    """(tokens kept, index of the first content token or None) of a sampled continuation,
    by the stop rule above."""
    first = None
    for kept, token in enumerate(tokens):
        text = decode(token)
        if ends_answer(token, text, first is not None, eos):
            return kept, first
        if first is None and starts_answer(text):
            first = kept
    return len(tokens), first


@dataclass(frozen=True)
class Sample:
    """One sampled continuation: token ids, text, each token's log-probability under the
    model (nats, temperature 1), and the entropy (nats) and top-1 probability of the row its
    first content (non-whitespace) token came from (NaN when it has none)."""

    tokens: list[int]
    text: str
    logprobs: np.ndarray
    content_row_entropy: float
    content_row_top1: float


class LanguageModel:
    """A language model behind one interface; every method returns data.

    A backend sets `name`, `identity` (what saved results depend on), `tokenizer`,
    `vocab_size`, `context_length` and `capabilities`, calls `_init_tokens`, and implements
    the readings it can give: `trace_many`, `next_rows`, `continuation_logprobs`,
    `score_split`, `sample`, `stream`, `forward_hidden`, `rows_from_hidden`. Row i of a
    sequence is p(next token | token_ids[: i + 1]). Every reading a backend gives is checked
    (models.checks)."""

    name: str
    identity: str
    tokenizer: Any
    vocab_size: int
    context_length: int
    capabilities: frozenset[str] = frozenset()
    num_layers: int = 0
    hidden_size: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every reading method a backend defines is checked where its result enters the
        library (models.checks): no result is computed from an invalid reading."""
        super().__init_subclass__(**kwargs)
        for name in CHECKS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__checked__", False):
                setattr(cls, name, checked(method, name))

    def _init_tokens(self, tokenizer: Any) -> None:
        """BOS and padding conventions, read off the tokenizer."""
        self.bos_id: int | None = tokenizer.bos_token_id
        plain = tokenizer("a", add_special_tokens=False).input_ids
        special = tokenizer("a").input_ids
        self.adds_bos: bool = self.bos_id is not None and special[: -len(plain)] == [self.bos_id]
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @property
    def num_parameters(self) -> int:
        """Parameters of the model (0 when the backend cannot tell, e.g. over HTTP)."""
        return 0

    def describe(self) -> dict[str, object]:
        """What this backend is and what it can give (`bayesmatrix models --probe`)."""
        return {
            "backend": type(self).__name__,
            "model": self.name,
            "capabilities": ", ".join(sorted(self.capabilities)),
        }

    def require(self, capability: str) -> None:
        """Raise CapabilityError unless this model has the capability."""
        if capability not in self.capabilities:
            raise CapabilityError(capability_message(self.name, type(self).__name__, [capability]))

    # ---- tokens -------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool | None = None) -> tuple[list[int], bool]:
        """Token ids as the model sees them and whether a BOS was prepended.

        add_bos=None follows the tokenizer's own convention (Gemma adds BOS, SmolLM2 does not).
        """
        if not isinstance(text, str):
            raise BayesmatrixError(f"expected a str prompt, got {type(text).__name__}")
        if text == "":
            raise BayesmatrixError("the prompt is empty; pass at least one character of text")
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        bos = self.adds_bos if add_bos is None else add_bos
        if bos:
            if self.bos_id is None:
                raise BayesmatrixError(f"{self.name} has no BOS token; use add_bos=False")
            ids = [self.bos_id, *ids]
        return ids, bos

    def encode(self, text: str) -> list[int]:
        """Token ids of a text as a piece of a longer prompt: no BOS, no special tokens."""
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def encode_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """encode(text) and each token's (start, end) character offsets in the text."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc.input_ids), [tuple(o) for o in enc.offset_mapping]

    def with_bos(self, ids: Sequence[int]) -> list[int]:
        """ids with the BOS prepended when this model's tokenizer adds one (Gemma does): a
        window cut from the middle of a text must still start the way the model was trained."""
        ids = [int(i) for i in ids]
        bos = self.bos_id
        if self.adds_bos and bos is not None and (not ids or ids[0] != bos):
            return [bos, *ids]
        return ids

    def decode_tokens(self, ids: Sequence[int]) -> list[str]:
        """Each id decoded on its own (partial UTF-8 bytes show as U+FFFD)."""
        return self.tokenizer.batch_decode([[int(i)] for i in ids])

    def _fit_window(self, ids: list[int], bos: bool, truncate: str | None) -> list[int]:
        limit = self.context_length
        if len(ids) <= limit:
            return ids
        if truncate != "left":
            raise BayesmatrixError(
                f"prompt is {len(ids)} tokens but {self.name} has a context window of {limit} "
                "tokens; shorten it or pass truncate='left' to keep the last tokens"
            )
        return [ids[0], *ids[len(ids) - limit + 1 :]] if bos else ids[len(ids) - limit :]

    def _prepare(
        self, source: str | Sequence[int], add_bos: bool | None, truncate: str | None
    ) -> tuple[list[int], bool]:
        if isinstance(source, str):
            ids, bos = self.tokenize(source, add_bos)
        else:
            ids = [int(i) for i in source]
            if not ids:
                raise BayesmatrixError("token_ids is empty; pass at least one token id")
            bad = [i for i in ids if not 0 <= i < self.vocab_size]
            if bad:
                raise BayesmatrixError(f"token ids out of range [0, {self.vocab_size}): {bad[:5]}")
            bos = self.bos_id is not None and ids[0] == self.bos_id
        if truncate not in (None, "left"):
            raise BayesmatrixError(f"truncate must be None or 'left', not {truncate!r}")
        return self._fit_window(ids, bos, truncate), bos

    def split_continuation(
        self, context: str, continuation: str, add_bos: bool | None = None
    ) -> tuple[list[int], int]:
        """Tokenise context+continuation as one string; return ids and the index of the first
        continuation token. Trailing whitespace of the context moves to the continuation (as in
        lm-evaluation-harness); a token straddling the boundary is an error."""
        if continuation == "":
            raise BayesmatrixError("the continuation is empty; pass at least one character")
        stripped = context.rstrip()
        continuation = context[len(stripped) :] + continuation
        context = stripped
        enc = self.tokenizer(
            context + continuation, add_special_tokens=False, return_offsets_mapping=True
        )
        ids, offsets = list(enc.input_ids), list(enc.offset_mapping)
        cut = len(context)
        split = next((j for j, (_, end) in enumerate(offsets) if end > cut), len(ids))
        if split < len(ids) and offsets[split][0] < cut:
            raise BayesmatrixError(
                f"a token spans the boundary between context and continuation ({context[-10:]!r}|"
                f"{continuation[:10]!r}); end the context at a word boundary"
            )
        bos = self.adds_bos if add_bos is None else add_bos
        if bos:
            ids, split = [self.bos_id, *ids], split + 1
        if split == 0:
            raise BayesmatrixError(
                f"the context is empty and {self.name} adds no BOS token, so the first token has "
                "no prediction; pass a non-empty context or add_bos=True"
            )
        return ids, split

    def first_content_token(self, context: str, continuation: str) -> tuple[list[int], int]:
        """(prefix ids, token) where the prefix's next-token row predicts the first token of the
        continuation that is not pure whitespace. Digits are often preceded by a bare-space
        token (' 24' -> ' ', '2', '4'); the answer's row is the one that predicts '2'."""
        ids, split = self.split_continuation(context, continuation)
        k = split
        while k < len(ids) - 1 and not self.tokenizer.decode([ids[k]]).strip():
            k += 1
        return ids[:k], ids[k]

    def score_many(
        self, pairs: Sequence[tuple[str, str]], batch_size: int = 8, add_bos: bool | None = None
    ) -> np.ndarray:
        """Summed log-prob (nats) of each continuation given its context."""
        return self.score_split(
            [self.split_continuation(c, x, add_bos) for c, x in pairs], batch_size
        )

    def score(self, context: str, continuation: str, add_bos: bool | None = None) -> float:
        """log p(continuation | context) in nats, summed over the continuation's tokens."""
        return float(self.score_many([(context, continuation)], add_bos=add_bos)[0])

    def next_token_probs(self, context: str, candidates: Sequence[str]) -> pd.DataFrame:
        """Probability of each candidate continuation, and renormalised over the candidates."""
        if not candidates:
            raise BayesmatrixError("pass at least one candidate continuation")
        prepared = [self.split_continuation(context, c) for c in candidates]
        logp = self.score_split(prepared)
        n_tokens = [len(ids) - split for ids, split in prepared]
        shifted = np.exp(logp - logp.max())
        return pd.DataFrame(
            {
                "candidate": list(candidates),
                "n_tokens": n_tokens,
                "logprob": logp,
                "prob": np.exp(logp),
                "prob_renormalised": shifted / shifted.sum(),
            }
        )

    # ---- readings: what a backend gives -----------------------------------------------------
    def trace(
        self,
        source: str | Sequence[int],
        top_k: int = 5,
        rows: Any = False,
        hidden_layers: Sequence[int] | None = None,
        add_bos: bool | None = None,
        truncate: str | None = None,
    ) -> Trace:
        """Trace a text or token ids: next-token log-prob, entropy, top-k (and rows/hidden)."""
        return self.trace_many([source], 1, top_k, rows, hidden_layers, add_bos, truncate)[0]

    def trace_many(
        self,
        sources: Sequence[str | Sequence[int]],
        batch_size: int = 8,
        top_k: int = 5,
        rows: Any = False,
        hidden_layers: Sequence[int] | None = None,
        add_bos: bool | None = None,
        truncate: str | None = None,
    ) -> list[Trace]:
        """Traces of many sources, in order."""
        self.require("topk_rows")
        raise NotImplementedError

    def next_rows(self, sources: Sequence[str | Sequence[int]], batch_size: int = 8) -> np.ndarray:
        """[n, V] next-token rows after the whole of each source."""
        self.require("full_rows")
        raise NotImplementedError

    def continuation_logprobs(
        self, ids: Sequence[int], requests: Sequence[tuple[int, Sequence[int]]]
    ) -> np.ndarray:
        """log P(tokens | ids[:cut]) for each (cut, tokens) request."""
        self.require("logprobs")
        raise NotImplementedError

    def continuation_logprobs_many(
        self, items: Sequence[tuple[Sequence[int], Sequence[tuple[int, Sequence[int]]]]]
    ) -> list[np.ndarray]:
        """continuation_logprobs for each (ids, requests) item; a served model sends them
        together."""
        return [self.continuation_logprobs(ids, requests) for ids, requests in items]

    def score_split(self, prepared: list[tuple[list[int], int]], batch_size: int = 8) -> np.ndarray:
        """Summed log-prob of ids[split:] given ids[:split], for (ids, split) pairs."""
        self.require("logprobs")
        raise NotImplementedError

    def sample(
        self,
        context: str,
        n: int,
        max_new_tokens: int = 16,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> list[Sample]:
        """n continuations of `context` (see models.hf for the conventions)."""
        self.require("sampling")
        raise NotImplementedError

    def stream(
        self, ids: Sequence[int], copies: int = 1, tokens: Sequence[int] | None = None
    ) -> Any:
        """Copies of a context, to be extended token by token; `tokens`: the ids whose
        log-probabilities the caller reads (a served model reads only those)."""
        self.require("streams")
        raise NotImplementedError

    def forward_hidden(self, batch: list[list[int]], layers: Sequence[int] = ()) -> Any:
        """Final hidden states of a right-padded batch, and those of chosen layers."""
        self.require("hidden_states")
        raise NotImplementedError

    def rows_from_hidden(self, hidden: Any, layer: int) -> np.ndarray:
        """Next-token rows from hidden states of a layer."""
        self.require("hidden_states")
        raise NotImplementedError
