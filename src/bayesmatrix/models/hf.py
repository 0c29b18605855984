"""The transformers backend: a causal LM in this process, instrumented to read rows of its
next-token matrix (every capability: rows, scores, samples, streams, hidden states)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.backends import CAPABILITIES
from bayesmatrix.models.base import LanguageModel, Sample, ends_answer, starts_answer
from bayesmatrix.models.stats import row_stats
from bayesmatrix.models.trace import Trace

RowsDtype = Literal["float16", "float32"] | bool
_DTYPES = {"float16": torch.float16, "float32": torch.float32, True: torch.float32}


class HFLanguageModel(LanguageModel):
    """A transformers causal LM with its tokenizer; every method returns data.

    Row i of a sequence is p(next token | token_ids[: i + 1]). Logits are formed from the final
    hidden states in chunks (see models.stats), never for all positions at once.
    """

    capabilities = frozenset(CAPABILITIES)

    def __init__(
        self, model: Any, tokenizer: object, name: str, identity: str | None = None
    ) -> None:
        # a transformers PreTrainedModel: its attributes (config, base_model, ...) are its own,
        # unknown to torch's stubs
        self.model: Any = model
        self.tokenizer = tokenizer
        self.name = name
        # what saved results depend on: changes whenever the weights do (models.reference)
        self.identity = identity or name
        first = next(self.model.parameters())
        self.device: torch.device = first.device  # inputs go here; statistics come back to CPU
        self.dtype: torch.dtype = first.dtype  # the weights'; statistics are float32
        cfg = self.model.config
        self.vocab_size: int = self.model.get_output_embeddings().weight.shape[0]
        self.context_length: int = int(getattr(cfg, "max_position_embeddings", 2048))
        self.num_layers: int = int(cfg.num_hidden_layers)
        self.hidden_size: int = int(cfg.hidden_size)
        self.softcap: float | None = getattr(cfg, "final_logit_softcapping", None)
        self._init_tokens(tokenizer)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def __repr__(self) -> str:
        return (
            f"HFLanguageModel({self.name!r}, vocab={self.vocab_size}, layers={self.num_layers}, "
            f"context={self.context_length}, device={self.device}, dtype={self.dtype})"
        )

    # ---- forward ------------------------------------------------------------------------
    def to_logits(
        self,
        normed_hidden: torch.Tensor,
        out: torch.Tensor | None = None,
        columns: slice | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final-norm hidden states -> logits (of the vocabulary `columns`: a slice or a tensor
        of token ids; default all), with the model's own head and soft-capping; written into
        `out` when given."""
        head = self.model.get_output_embeddings()
        if not isinstance(head, torch.nn.Linear) or head.weight.device != normed_hidden.device:
            # a head elsewhere (device_map="auto" over several GPUs): its hooks move the input
            picked = slice(None) if columns is None else columns
            logits = head(normed_hidden)[..., picked].to(normed_hidden.device)
            logits = logits if out is None else out.copy_(logits)
        else:
            weight = head.weight if columns is None else head.weight[columns]
            logits = torch.matmul(normed_hidden, weight.t(), out=out)
            if head.bias is not None:
                logits.add_(head.bias if columns is None else head.bias[columns])
        if self.softcap:
            logits = logits.div_(self.softcap).tanh_().mul_(self.softcap)
        return logits

    def _vocab(self, hidden: torch.Tensor) -> int | None:
        """The vocabulary size when row_stats may slice the head (a linear head on the hidden
        states' device); None makes it form whole rows through the head module itself."""
        head = self.model.get_output_embeddings()
        direct = isinstance(head, torch.nn.Linear) and head.weight.device == hidden.device
        return self.vocab_size if direct else None

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """Apply the model's final norm to residual-stream states of an intermediate layer."""
        return self.model.base_model.norm(hidden)

    def layer_indices(self, hidden_layers: Sequence[int] | None) -> list[int]:
        """Hidden-state indices (negative ones counted back) as 0..num_layers; a clear error
        for indices out of range."""
        out = []
        for layer in hidden_layers or []:
            if not -(self.num_layers + 1) <= layer <= self.num_layers:
                raise BayesmatrixError(
                    f"layer {layer} out of range: {self.name} has hidden states "
                    f"0..{self.num_layers} (0 = embeddings, last = after the final norm); "
                    "negative indices count back"
                )
            out.append(layer % (self.num_layers + 1))
        return out

    @torch.inference_mode()
    def forward_hidden(
        self, batch: list[list[int]], layers: Sequence[int] = ()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Right-padded batch -> final normed hidden states [b, n, d] and chosen layers."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        out = self.model.base_model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            output_hidden_states=bool(layers),
            use_cache=False,
        )
        hidden = {k: out.hidden_states[k] for k in layers} if layers else {}
        return out.last_hidden_state, hidden

    @torch.inference_mode()
    def rows_from_hidden(self, hidden: torch.Tensor | np.ndarray, layer: int) -> np.ndarray:
        """Next-token rows (float64) from hidden states of `layer` (as in Trace.hidden): the
        last layer is already normalised; earlier layers go through the model's final norm
        first (the logit lens), then the model's own unembedding and soft-capping.

        The map is evaluated in float64 (norm, unembedding in vocabulary slices, softmax):
        continuity compares rows of embeddings 1e-4 apart, where float32 rounding of the
        logits (which depends on the CPU's reduction order) would be part of the difference."""
        layer = self.layer_indices([layer])[0]
        head = self.model.get_output_embeddings()
        if not isinstance(head, torch.nn.Linear):  # a head spread over devices: float32 path
            return self._rows_from_hidden32(hidden, layer)
        device = head.weight.device
        h = torch.as_tensor(np.asarray(hidden, dtype=np.float64), device=device)
        squeeze = h.ndim == 1
        h = h[None] if squeeze else h
        if layer != self.num_layers:
            h = self._norm64()(h)
        logits = torch.empty((len(h), self.vocab_size), dtype=torch.float64, device=device)
        step = 16_384
        for start in range(0, self.vocab_size, step):
            weight = head.weight[start : start + step].to(torch.float64)
            logits[:, start : start + len(weight)] = h @ weight.t()
            if head.bias is not None:
                logits[:, start : start + len(weight)] += head.bias[start : start + step].double()
        if self.softcap:
            logits.div_(self.softcap).tanh_().mul_(self.softcap)
        logits.sub_(logits.max(dim=-1, keepdim=True).values).exp_()
        logits.div_(logits.sum(dim=-1, keepdim=True))
        out = logits.cpu().numpy()
        return out[0] if squeeze else out

    def _norm64(self) -> torch.nn.Module:
        """A float64 copy of the model's final norm (made once)."""
        if getattr(self, "_norm_double", None) is None:
            import copy

            self._norm_double = copy.deepcopy(self.model.base_model.norm).double()
        return self._norm_double

    @torch.inference_mode()
    def _rows_from_hidden32(self, hidden: torch.Tensor | np.ndarray, layer: int) -> np.ndarray:
        """rows_from_hidden through the head module itself, in the weights' dtype."""
        h = torch.as_tensor(np.asarray(hidden, dtype=np.float32)).to(self.device, self.dtype)
        squeeze = h.ndim == 1
        h = h[None] if squeeze else h
        out = np.empty((len(h), self.vocab_size))
        step = max(1, 2**25 // (4 * self.vocab_size))
        for start in range(0, len(h), step):
            chunk = h[start : start + step]
            if layer != self.num_layers:
                chunk = self.final_norm(chunk)
            logits = self.to_logits(chunk).double()
            out[start : start + len(chunk)] = torch.softmax(logits, -1).cpu().numpy()
        return out[0] if squeeze else out

    @torch.inference_mode()
    def next_rows(self, sources: Sequence[str | Sequence[int]], batch_size: int = 8) -> np.ndarray:
        """[n, V] float32 next-token rows after the whole of each source (text or ids); only
        these rows are formed, not one per position."""
        prepared = [self._prepare(s, None, None)[0] for s in sources]
        out = np.empty((len(prepared), self.vocab_size), dtype=np.float32)
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start : start + batch_size]
            last, _ = self.forward_hidden([prepared[i] for i in chunk])
            ends = torch.tensor([len(prepared[i]) - 1 for i in chunk], device=self.device)
            picked = last[torch.arange(len(chunk), device=self.device), ends]
            out[chunk] = torch.softmax(self.to_logits(picked).float(), -1).cpu().numpy()
        return out

    def trace_many(
        self,
        sources: Sequence[str | Sequence[int]],
        batch_size: int = 8,
        top_k: int = 5,
        rows: RowsDtype = False,
        hidden_layers: Sequence[int] | None = None,
        add_bos: bool | None = None,
        truncate: str | None = None,
    ) -> list[Trace]:
        """Trace many sources in length-sorted, right-padded batches; order is preserved."""
        if not 0 <= top_k <= self.vocab_size:
            raise BayesmatrixError(f"top_k must be in [0, {self.vocab_size}], not {top_k}")
        if rows is not False and rows not in _DTYPES:
            raise BayesmatrixError(f"rows must be False, 'float16' or 'float32', not {rows!r}")
        rows_dtype = _DTYPES.get(rows) if rows is not False else None
        layers = self.layer_indices(hidden_layers)
        prepared = [self._prepare(s, add_bos, truncate) for s in sources]
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i][0]))
        results: list[Trace | None] = [None] * len(prepared)
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start : start + batch_size]
            batch = [prepared[i][0] for i in chunk]
            last, hidden = self.forward_hidden(batch, layers)
            for row, i in enumerate(chunk):
                ids, bos = prepared[i]
                n = len(ids)
                next_ids = torch.tensor([*ids[1:], -1])
                stats = row_stats(
                    last[row, :n], self.to_logits, next_ids, top_k, rows_dtype, self._vocab(last)
                )
                results[i] = Trace(
                    model=self.name,
                    token_ids=np.asarray(ids, dtype=np.int64),
                    tokens=self.decode_tokens(ids),
                    bos_added=bos,
                    logprob_next=stats.logprob_next,
                    entropy=stats.entropy,
                    topk_ids=stats.topk_ids,
                    topk_probs=stats.topk_probs,
                    topk_tokens=[self.decode_tokens(r) for r in stats.topk_ids],
                    rows=stats.rows,
                    hidden={k: v[row, :n].float().cpu().numpy() for k, v in hidden.items()},
                )
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # the batches above cover every index; a gap is a bug, never dropped
            raise BayesmatrixError(f"trace_many lost the traces of texts {missing}")
        return [r for r in results if r is not None]

    @torch.inference_mode()
    def continuation_logprobs(
        self, ids: Sequence[int], requests: Sequence[tuple[int, Sequence[int]]]
    ) -> np.ndarray:
        """log P(tokens | ids[:cut]) summed over tokens, for each (cut, tokens) request, from one
        forward pass over ids. First tokens are read from that pass; later tokens of multi-token
        requests are fed on top of its KV cache, cropped back to each cut (latest cut first).
        When ids reach a sliding-attention window the cache cannot be cropped, and those
        branches are recomputed from scratch (exact, slower)."""
        ids = self._fit_window([int(i) for i in ids], False, None)
        if any(not 1 <= cut <= len(ids) or not toks for cut, toks in requests):
            raise BayesmatrixError(f"each request needs 1 <= cut <= {len(ids)} and tokens")
        branching = any(len(toks) > 1 for _, toks in requests)
        window = getattr(self.model.config, "sliding_window", None)
        crop = branching and not (window and len(ids) >= window)
        dev = self.device
        out = self.model.base_model(input_ids=torch.tensor([ids], device=dev), use_cache=crop)
        hidden = out.last_hidden_state[0]
        firsts = torch.tensor([cut - 1 for cut, _ in requests], device=dev)
        first_ids = torch.tensor([int(toks[0]) for _, toks in requests], device=dev)
        logp = torch.log_softmax(self.to_logits(hidden[firsts]).float(), -1)
        result = logp[torch.arange(len(requests), device=dev), first_ids].double().cpu().numpy()
        cache = out.past_key_values if crop else None
        for i in sorted(range(len(requests)), key=lambda i: -requests[i][0]):
            cut, toks = requests[i]
            if len(toks) < 2:
                continue
            if cache is not None:
                cache.crop(-(cache.get_seq_length() - cut))
                branch = self.model.base_model(
                    input_ids=torch.tensor([list(toks[:-1])], device=dev),
                    **_cache_arg(self.model.base_model, cache),
                    position_ids=torch.arange(cut, cut + len(toks) - 1, device=dev)[None],
                    use_cache=True,
                ).last_hidden_state[0]
            else:
                full = self.model.base_model(
                    input_ids=torch.tensor([ids[:cut] + list(toks[:-1])], device=dev)
                )
                branch = full.last_hidden_state[0, cut:]
            rows = torch.log_softmax(self.to_logits(branch).float(), -1)
            later = torch.tensor(toks[1:], device=dev)
            result[i] += float(rows[torch.arange(len(toks) - 1, device=dev), later].sum())
        return result

    def score_split(self, prepared: list[tuple[list[int], int]], batch_size: int = 8) -> np.ndarray:
        """Summed log-prob of ids[split:] given ids[:split], for (ids, split) pairs."""
        for ids, _ in prepared:
            self._fit_window(ids, False, None)
        out = np.empty(len(prepared))
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i][0]))
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start : start + batch_size]
            last, _ = self.forward_hidden([prepared[i][0] for i in chunk])
            for row, i in enumerate(chunk):
                ids, split = prepared[i]
                hidden = last[row, split - 1 : len(ids) - 1]
                stats = row_stats(
                    hidden, self.to_logits, torch.tensor(ids[split:]), 0, vocab=self._vocab(hidden)
                )
                out[i] = float(stats.logprob_next.sum())
        return out

    def stream(
        self, ids: Sequence[int], copies: int = 1, tokens: Sequence[int] | None = None
    ) -> Stream:
        """`copies` copies of the context `ids` (BOS included if wanted), to be extended token
        by token (Stream.feed); sampling loops that choose their own next tokens use it.
        Whole rows are read in process, so `tokens` changes nothing here."""
        return Stream(self, [int(i) for i in ids], copies)

    @torch.inference_mode()
    def sample(
        self,
        context: str,
        n: int,
        max_new_tokens: int = 16,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> list[Sample]:
        """n continuations of `context`, sampled token by token at `temperature` (0: greedy)
        with a seeded generator. Leading whitespace (newlines included) is kept and EOS is
        masked until the answer has content (renormalising that step's row: an answer is never
        empty); then a token containing a newline ends it (not kept), as do EOS and
        max_new_tokens. Each sample carries its tokens, text, the model's log-probability of
        each token (temperature 1: what semantic-entropy estimators use) and the entropy
        (nats) and top-1 probability of the row its first content token was drawn from.
        Cost: one batched forward per generated position."""
        if n < 1 or max_new_tokens < 1 or temperature < 0:
            raise BayesmatrixError("sample needs n >= 1, max_new_tokens >= 1, temperature >= 0")
        ids, _ = self._prepare(context, None, "left")
        generator = torch.Generator(device=self.device).manual_seed(seed)
        dev = self.device
        out = self.model(input_ids=torch.tensor([ids] * n, device=dev), use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1].float()
        tokens: list[list[int]] = [[] for _ in range(n)]
        logps: list[list[float]] = [[] for _ in range(n)]
        row = [(float("nan"), float("nan"))] * n
        alive = [True] * n
        eos = self.tokenizer.eos_token_id
        started = [False] * n
        for step in range(max_new_tokens):
            if eos is not None:  # an answer is never empty: EOS only once it has content
                logits[[i for i in range(n) if not started[i]], eos] = float("-inf")
            logp = torch.log_softmax(logits, -1)
            if temperature == 0:
                chosen = logp.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, -1)
                chosen = torch.multinomial(probs, 1, generator=generator)[:, 0]
            for i in (i for i in range(n) if alive[i]):
                token = int(chosen[i])
                text = self.tokenizer.decode([token])
                if ends_answer(token, text, started[i], eos):
                    alive[i] = False
                    continue
                if not started[i] and starts_answer(text):
                    started[i] = True
                    p = logp[i].exp()
                    row[i] = (float(torch.special.entr(p).sum()), float(p.max()))
                tokens[i].append(token)
                logps[i].append(float(logp[i, token]))
            if not any(alive) or step == max_new_tokens - 1:
                break
            position = torch.full((n, 1), len(ids) + step, device=dev)
            out = self.model(
                input_ids=chosen[:, None], **_cache_arg(self.model, cache),
                position_ids=position, use_cache=True,
            )  # fmt: skip
            cache, logits = out.past_key_values, out.logits[:, -1].float()
        return [
            Sample(t, self.tokenizer.decode(t), np.array(lp), *r)
            for t, lp, r in zip(tokens, logps, row, strict=True)
        ]


def _cache_arg(module: Any, cache: object) -> dict[str, object]:
    """The KV cache as the module's forward names it: `cache` in newer transformers (which
    deprecates `past_key_values`, a warning the user cannot act on), else `past_key_values`."""
    return {_cache_name(type(module)): cache}


_CACHE_NAMES: dict[type, str] = {}


def _cache_name(kind: type[torch.nn.Module]) -> str:
    """Read once per module class: the sampling and stream loops call forward at every step."""
    if kind not in _CACHE_NAMES:
        forward = inspect.signature(kind.forward).parameters
        _CACHE_NAMES[kind] = "cache" if "cache" in forward else "past_key_values"
    return _CACHE_NAMES[kind]


class Stream:
    """Copies of one context extended token by token on a shared KV cache: each feed costs
    one batched forward over the new tokens only (made by LanguageModel.stream)."""

    def __init__(self, lm: HFLanguageModel, ids: Sequence[int], copies: int) -> None:
        if copies < 1 or not ids:
            raise BayesmatrixError("a stream needs a non-empty context and at least one copy")
        self.lm, self.copies, self.length = lm, copies, len(ids)
        with torch.inference_mode():
            batch = torch.tensor([list(ids)] * copies, device=lm.device)
            out = lm.model(input_ids=batch, use_cache=True)
        self._cache = out.past_key_values
        self.logprobs = torch.log_softmax(out.logits[:, -1].float(), -1)

    @torch.inference_mode()
    def feed(self, tokens: np.ndarray) -> torch.Tensor:
        """Append tokens [copies, L] (one row per copy) and return each copy's next-token
        log-probabilities [copies, V] after them (also kept as .logprobs)."""
        tokens = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
        if tokens.shape[0] != self.copies or tokens.shape[1] < 1:
            raise BayesmatrixError(f"feed needs tokens of shape [{self.copies}, L >= 1]")
        if self.length + tokens.shape[1] > self.lm.context_length:
            raise BayesmatrixError(
                f"the stream would exceed {self.lm.name}'s window of {self.lm.context_length}"
            )
        dev = self.lm.device
        steps = torch.arange(self.length, self.length + tokens.shape[1], device=dev)
        out = self.lm.model(
            input_ids=torch.from_numpy(tokens).to(dev),
            **_cache_arg(self.lm.model, self._cache),
            position_ids=steps.expand(self.copies, -1),
            use_cache=True,
        )
        self._cache, self.length = out.past_key_values, self.length + tokens.shape[1]
        self.logprobs = torch.log_softmax(out.logits[:, -1].float(), -1)
        return self.logprobs


def load_model(
    name_or_path: str | os.PathLike[str],
    device: str = "auto",
    dtype: str = "float32",
    device_map: str | None = None,
) -> HFLanguageModel:
    """A named embedded model, a .gguf file, a local HF directory or a cached hub id, in this
    process (see bayesmatrix.load for the options)."""
    from bayesmatrix.models.hf_load import load_hf
    from bayesmatrix.models.loading import Loader
    from bayesmatrix.models.reference import ModelRef

    model, tokenizer, label = load_hf(name_or_path, device, dtype, device_map)
    identity = ModelRef.parse(name_or_path).identity() + Loader(dtype=dtype).suffix
    return HFLanguageModel(model, tokenizer, label, identity)
