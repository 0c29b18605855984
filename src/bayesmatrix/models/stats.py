"""Per-position statistics of next-token rows, computed a block of logits at a time.

A [seq, vocab] float32 logit tensor for Gemma's 262k vocabulary is 1 GiB per 1k tokens, so it
is never formed whole. Statistics alone (no rows) go through slices of the vocabulary for all
positions at once, COLUMN_BYTES at a time, and combine per-slice maxima and sums exactly
(log-sum-exp): the unembedding matrix is then read once, and a slice stays in the cache.
Full rows go through chunks of positions, CHUNK_BYTES at a time. Both reuse two buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

CHUNK_BYTES = 32 * 2**20
COLUMN_BYTES = 16 * 2**20
MAX_BLOCK_POSITIONS = 8192


@dataclass
class RowStats:
    """Statistics of n rows: next-token log-prob (NaN where no next token), entropy in nats,
    top-k ids and probabilities, and optionally the full rows."""

    logprob_next: np.ndarray  # [n] float64
    entropy: np.ndarray  # [n] float64, nats
    topk_ids: np.ndarray  # [n, k] int64
    topk_probs: np.ndarray  # [n, k] float32
    rows: np.ndarray | None  # [n, vocab] float16/float32 or None


def chunk_size(vocab: int, chunk_bytes: int | None = None) -> int:
    """Positions per chunk so that one chunk of float32 logits fits in chunk_bytes
    (default: the module's CHUNK_BYTES, read at call time)."""
    return max(1, (chunk_bytes or CHUNK_BYTES) // (4 * vocab))


@torch.inference_mode()
def row_stats(
    hidden: torch.Tensor,
    to_logits: Callable[..., torch.Tensor],
    next_ids: torch.Tensor,
    top_k: int,
    rows_dtype: torch.dtype | None = None,
    vocab: int | None = None,
) -> RowStats:
    """Reduce rows softmax(to_logits(hidden[i])) to statistics.

    hidden: [n, d] final (normalised) hidden states on the model's device, in its dtype;
    next_ids: [n] ids of the actual next token, -1 where there is none. Logits are cast to
    float32 before any statistic, whatever the weights' dtype. Entropy uses
    H = log Z - E_p[z] on max-shifted logits, one exp pass. With `vocab` given, to_logits is
    called as to_logits(h, out=buffer, columns=slice) and buffers are reused.
    """
    if vocab is None or rows_dtype is not None:
        return _by_positions(hidden, to_logits, next_ids, top_k, rows_dtype, vocab)
    parts = [
        _by_columns(hidden[s : s + MAX_BLOCK_POSITIONS], to_logits, next_ids[s:], top_k, vocab)
        for s in range(0, hidden.shape[0], MAX_BLOCK_POSITIONS)
    ]
    joined = {f: np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS}
    return RowStats(**joined, rows=None)


_FIELDS = ("logprob_next", "entropy", "topk_ids", "topk_probs")


def _flat_view(buffer: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """A contiguous [rows, cols] view at the start of a flat buffer."""
    return buffer[: rows * cols].view(rows, cols)


def _by_columns(
    hidden: torch.Tensor,
    to_logits: Callable[..., torch.Tensor],
    next_ids: torch.Tensor,
    top_k: int,
    vocab: int,
) -> RowStats:
    """Statistics over vocabulary slices: per slice j the max m_j, s_j = sum exp(z - m_j) and
    t_j = sum exp(z - m_j)(z - m_j); with M = max m_j and w_j = exp(m_j - M),
    log Z = M + log S, S = sum w_j s_j, and H = log S - sum w_j (t_j + (m_j - M) s_j) / S."""
    n, dev = hidden.shape[0], hidden.device
    width = min(vocab, max(256, COLUMN_BYTES // (4 * n)))
    starts = range(0, vocab, width)
    maxes = torch.empty((n, len(starts)), dtype=torch.float64, device=dev)
    sums, tilts = torch.empty_like(maxes), torch.empty_like(maxes)
    next_logit = torch.full((n,), float("nan"), dtype=torch.float64, device=dev)
    nxt = next_ids[:n].to(dev)
    values, indices = [], []
    z_flat = torch.empty(n * width, dtype=hidden.dtype, device=dev)
    e_flat = torch.empty(n * width, device=dev)
    for j, s in enumerate(starts):
        w = min(width, vocab - s)
        z = to_logits(hidden, out=_flat_view(z_flat, n, w), columns=slice(s, s + w)).float()
        if top_k:
            v, i = torch.topk(z, min(top_k, w), dim=-1)
            values.append(v)
            indices.append(i + s)
        inside = torch.nonzero((nxt >= s) & (nxt < s + w)).squeeze(-1)
        next_logit[inside] = z[inside, nxt[inside] - s].double()
        m = z.amax(dim=-1, keepdim=True)
        z.sub_(m)
        e = torch.exp(z, out=_flat_view(e_flat, n, w))
        maxes[:, j] = m[:, 0]
        sums[:, j] = e.sum(dim=-1)
        tilts[:, j] = torch.linalg.vecdot(e, z)
    top = maxes.amax(dim=-1, keepdim=True)
    weight = torch.exp(maxes - top)
    total = (weight * sums).sum(dim=-1)
    tilt = (weight * (tilts + (maxes - top) * sums)).sum(dim=-1)
    log_z = top[:, 0] + torch.log(total)
    entropy = torch.log(total) - tilt / total
    topk_ids = np.empty((n, top_k), dtype=np.int64)
    topk_probs = np.empty((n, top_k), dtype=np.float32)
    if top_k:
        best, where = torch.topk(torch.cat(values, dim=-1), top_k, dim=-1)
        topk_ids[:] = torch.gather(torch.cat(indices, dim=-1), 1, where).cpu().numpy()
        topk_probs[:] = torch.exp(best.double() - log_z[:, None]).float().cpu().numpy()
    logprob = (next_logit - log_z).cpu().numpy()
    return RowStats(logprob, entropy.cpu().numpy(), topk_ids, topk_probs, None)


def _by_positions(
    hidden: torch.Tensor,
    to_logits: Callable[..., torch.Tensor],
    next_ids: torch.Tensor,
    top_k: int,
    rows_dtype: torch.dtype | None,
    vocab: int | None,
) -> RowStats:
    """Statistics (and optionally full rows) over chunks of whole rows."""
    n = hidden.shape[0]
    step = chunk_size(vocab or to_logits(hidden[:1]).shape[-1])
    logprob = np.full(n, np.nan)
    entropy = np.empty(n)
    topk_ids = np.empty((n, top_k), dtype=np.int64)
    topk_probs = np.empty((n, top_k), dtype=np.float32)
    rows = None
    width = min(step, n)
    z_flat = torch.empty(width * vocab, dtype=hidden.dtype, device=hidden.device) if vocab else None
    e_flat = torch.empty(width * vocab, device=hidden.device) if vocab else None
    for start in range(0, n, step):
        m = min(step, n - start)
        if z_flat is None or e_flat is None or vocab is None:
            z = to_logits(hidden[start : start + m]).float()
            z.sub_(z.amax(dim=-1, keepdim=True))
            e = torch.exp(z)
        else:
            z = to_logits(hidden[start : start + m], out=_flat_view(z_flat, m, vocab)).float()
            z.sub_(z.amax(dim=-1, keepdim=True))
            e = torch.exp(z, out=_flat_view(e_flat, m, vocab))
        total = e.sum(dim=-1)
        log_total = torch.log(total)
        mean_z = torch.linalg.vecdot(e, z) / total
        entropy[start : start + m] = (log_total - mean_z).double().cpu().numpy()
        nxt = next_ids[start : start + m].to(z.device)
        has = nxt >= 0
        if bool(has.any()):
            idx = torch.nonzero(has).squeeze(-1)
            lp = z[idx, nxt[idx]] - log_total[idx]
            logprob[start + idx.cpu().numpy()] = lp.double().cpu().numpy()
        if top_k:
            values, ids = torch.topk(z, top_k, dim=-1)
            topk_ids[start : start + m] = ids.cpu().numpy()
            probs = torch.exp(values - log_total[:, None])
            topk_probs[start : start + m] = probs.cpu().numpy()
        if rows_dtype is not None:
            if rows is None:
                np_dtype = torch.empty(0, dtype=rows_dtype).numpy().dtype
                rows = np.empty((n, z.shape[-1]), dtype=np_dtype)
            rows[start : start + m] = (e / total[:, None]).to(rows_dtype).cpu().numpy()
    return RowStats(logprob, entropy, topk_ids, topk_probs, rows)
