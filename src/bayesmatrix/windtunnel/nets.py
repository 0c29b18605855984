"""Sequence models for the wind tunnels, all predicting x_t from x_<t with a BOS token (id V):
a small Llama-architecture transformer (transformers' LlamaConfig, so it saves and loads like
any LM), an LSTM, an MLP over a fixed window, and Mamba (transformers' MambaConfig; its
pure-PyTorch selective scan runs on CPU, slowly: mamba-ssm's kernels are CUDA-only). Sizes are
chosen to match parameter counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from bayesmatrix.errors import BayesmatrixError

ARCHS = ("transformer", "lstm", "mlp", "mamba")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Transformer(nn.Module):
    """LlamaForCausalLM over V + 1 tokens (the last is BOS)."""

    def __init__(
        self, vocab: int, length: int, width: int = 64, layers: int = 2, heads: int = 4
    ) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        self.config = LlamaConfig(
            vocab_size=vocab + 1,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=length + 1,
            bos_token_id=vocab,
            eos_token_id=vocab,
            pad_token_id=None,  # a pad id would make BOS a frozen all-zero embedding
            tie_word_embeddings=True,
        )
        self.lm = LlamaForCausalLM(self.config)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids=inputs, use_cache=False).logits

    def save(self, directory: str | Path) -> Path:
        """save_pretrained plus a word-level tokenizer ('t0' .. 't{V-1}', '<bos>'), so that
        bayesmatrix.load(directory) returns a LanguageModel that traces token ids."""
        from tokenizers import Tokenizer
        from tokenizers.models import WordLevel
        from tokenizers.pre_tokenizers import WhitespaceSplit
        from transformers import PreTrainedTokenizerFast

        out = Path(directory)
        vocab = self.config.vocab_size - 1
        words = {f"t{i}": i for i in range(vocab)} | {"<bos>": vocab}
        tok = Tokenizer(WordLevel(words, unk_token="<bos>"))
        tok.pre_tokenizer = WhitespaceSplit()
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<bos>", pad_token="<bos>", unk_token="<bos>"
        )
        self.lm.save_pretrained(out)
        fast.save_pretrained(out)
        return out


class Mamba(nn.Module):
    """MambaForCausalLM (2 layers, state 16, expansion 2) over V + 1 tokens (the last is BOS)."""

    def __init__(self, vocab: int, width: int, layers: int = 2) -> None:
        super().__init__()
        from transformers import MambaConfig, MambaForCausalLM

        self.config = MambaConfig(
            vocab_size=vocab + 1,
            hidden_size=width,
            state_size=16,
            num_hidden_layers=layers,
            expand=2,
            conv_kernel=4,
            bos_token_id=vocab,
            eos_token_id=vocab,
            pad_token_id=None,  # as for the transformer: BOS must stay a learnable embedding
            tie_word_embeddings=True,
            use_cache=False,
        )
        self.lm = MambaForCausalLM(self.config)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        with _unbound_scan():
            return self.lm(input_ids=inputs, use_cache=False).logits


def selective_scan(
    hidden_states: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    **_: object,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mamba's selective scan, the same recurrence as transformers' CPU fallback (shapes:
    hidden_states, dt [b, D, L]; A [D, N]; B, C [b, N, L]), stepping over slices from `unbind`.
    The fallback indexes one position per step, and each index's backward fills a zero tensor
    of the whole [b, D, L, N] size, so its cost grows with L^2 (benchmarks/mamba_scan.py)."""
    if delta_bias is not None:
        dt = dt + delta_bias.to(dt.dtype)[..., None]
    if delta_softplus:
        dt = nn.functional.softplus(dt)
    dA = torch.exp(A[None, :, None, :] * dt[..., None])  # [b, D, L, N]
    dBu = (dt * hidden_states)[..., None] * B.transpose(1, 2)[:, None].float()
    state = torch.zeros_like(dBu[:, :, 0])
    outputs = []
    for a, bu, c in zip(dA.unbind(2), dBu.unbind(2), C.unbind(2), strict=True):
        state = a * state + bu
        outputs.append((state * c[:, None, :]).sum(-1))
    y = torch.stack(outputs, dim=-1).to(hidden_states.dtype)
    if D is not None:
        y = y + hidden_states * D[None, :, None]
    if z is not None:
        y = y * nn.functional.silu(z)
    return (y, state) if return_last_state else y


@contextmanager
def _unbound_scan() -> Iterator[None]:
    """transformers' Mamba with selective_scan in place of its CPU fallback, for one call."""
    from transformers.models.mamba import modeling_mamba

    before = modeling_mamba.mamba_selective_scan
    modeling_mamba.mamba_selective_scan = selective_scan
    try:
        yield
    finally:
        modeling_mamba.mamba_selective_scan = before


class LSTM(nn.Module):
    def __init__(self, vocab: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, width)
        self.rnn = nn.LSTM(width, width, batch_first=True)
        self.head = nn.Linear(width, vocab + 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(inputs))[0])


class MLP(nn.Module):
    """Sees only the last `window` tokens (BOS-padded) at each position."""

    def __init__(self, vocab: int, width: int, window: int = 8) -> None:
        super().__init__()
        self.vocab, self.window = vocab, window
        self.embed = nn.Embedding(vocab + 1, 16)
        self.net = nn.Sequential(
            nn.Linear(16 * window, width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, vocab + 1),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        pad = torch.full((inputs.shape[0], self.window - 1), self.vocab, dtype=inputs.dtype)
        padded = torch.cat([pad, inputs], dim=1)
        windows = padded.unfold(1, self.window, 1)  # [B, T, window]
        return self.net(self.embed(windows).flatten(2))


def build(arch: str, vocab: int, length: int, seed: int = 0) -> nn.Module:
    """An architecture with about as many parameters as the default transformer."""
    torch.manual_seed(seed)
    if arch == "transformer":
        return Transformer(vocab, length)
    target = n_params(Transformer(vocab, length))
    if arch == "lstm":
        return _match(lambda w: LSTM(vocab, w), target, seed)
    if arch == "mlp":
        return _match(lambda w: MLP(vocab, w), target, seed)
    if arch == "mamba":
        return _match(lambda w: Mamba(vocab, w), target, seed)
    raise BayesmatrixError(f"unknown architecture '{arch}'; choose from {', '.join(ARCHS)}")


def _match(make, target: int, seed: int) -> nn.Module:
    """The width whose parameter count is closest to target (counts grow with the width, so a
    bisection builds about 8 candidates instead of all 126)."""
    widths = range(8, 512, 4)
    lo, hi = 0, len(widths) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if n_params(make(widths[mid])) < target:
            lo = mid + 1
        else:
            hi = mid
    candidates = {widths[max(lo - 1, 0)], widths[lo]}
    best = min(candidates, key=lambda w: abs(n_params(make(w)) - target))
    torch.manual_seed(seed)  # the weights depend on the seed only, not on the search
    return make(best)
