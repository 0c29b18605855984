"""Per-position statistics of next-token rows, computed in chunks of positions.

A [seq, vocab] float32 logit tensor for Gemma's 262k vocabulary is 1 GiB per 1k tokens, so
rows are formed CHUNK_BYTES at a time from the final hidden states and reduced at once.
32 MiB chunks (~170 positions for a 49k vocabulary) stay close to the cache and were fastest
in benchmarks/trace_throughput.py; 64+ MiB chunks cost ~15% more time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

CHUNK_BYTES = 32 * 2**20


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
    to_logits: Callable[[torch.Tensor], torch.Tensor],
    next_ids: torch.Tensor,
    top_k: int,
    rows_dtype: torch.dtype | None = None,
    vocab: int | None = None,
) -> RowStats:
    """Reduce rows softmax(to_logits(hidden[i])) to statistics, chunk by chunk.

    hidden: [n, d] final (normalised) hidden states on the model's device, in its dtype;
    next_ids: [n] ids of the actual next token, -1 where there is none. Logits are cast to
    float32 before any statistic, whatever the weights' dtype. Entropy uses
    H = log Z - E_p[z] on max-shifted logits, one exp pass.
    """
    n = hidden.shape[0]
    step = chunk_size(vocab or to_logits(hidden[:1]).shape[-1])
    logprob = np.full(n, np.nan)
    entropy = np.empty(n)
    topk_ids = np.empty((n, top_k), dtype=np.int64)
    topk_probs = np.empty((n, top_k), dtype=np.float32)
    rows = None
    for start in range(0, n, step):
        z = to_logits(hidden[start : start + step]).float()
        z.sub_(z.amax(dim=-1, keepdim=True))
        e = torch.exp(z)
        total = e.sum(dim=-1)
        log_total = torch.log(total)
        mean_z = torch.linalg.vecdot(e, z) / total
        entropy[start : start + len(z)] = (log_total - mean_z).double().cpu().numpy()
        nxt = next_ids[start : start + len(z)].to(z.device)
        has = nxt >= 0
        if bool(has.any()):
            idx = torch.nonzero(has).squeeze(-1)
            lp = z[idx, nxt[idx]] - log_total[idx]
            logprob[start + idx.cpu().numpy()] = lp.double().cpu().numpy()
        if top_k:
            values, ids = torch.topk(z, top_k, dim=-1)
            topk_ids[start : start + len(z)] = ids.cpu().numpy()
            probs = torch.exp(values - log_total[:, None])
            topk_probs[start : start + len(z)] = probs.cpu().numpy()
        if rows_dtype is not None:
            if rows is None:
                np_dtype = torch.empty(0, dtype=rows_dtype).numpy().dtype
                rows = np.empty((n, z.shape[-1]), dtype=np_dtype)
            rows[start : start + len(z)] = (e / total[:, None]).to(rows_dtype).cpu().numpy()
    return RowStats(logprob, entropy, topk_ids, topk_probs, rows)
