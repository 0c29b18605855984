"""Tolerances derived from the arithmetic: how far float32 forward passes of a model are from
the same model in float64, measured on the inputs under test.

Two float32 computations that differ only in reduction order (padding, batching, a KV cache,
per-prefix passes) each carry a rounding error of this size relative to exact arithmetic, so
they may differ by about twice it. A bug (a wrong mask, an off-by-one position) moves
log-probabilities by 1e-2 or more, orders of magnitude above these tolerances.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

# margin over the measured error: the compared computations' errors are of the same kind but
# not identical (another reduction order), so their maxima differ by a small factor
FACTOR = 8.0
_DOUBLES: dict[int, torch.nn.Module] = {}


def _double(lm) -> torch.nn.Module:
    key = id(lm.model)
    if key not in _DOUBLES:
        _DOUBLES[key] = copy.deepcopy(lm.model).double().eval()
    return _DOUBLES[key]


@torch.no_grad()
def float32_error(lm, sequences: Sequence[Sequence[int]]) -> float:
    """max |log p_float32 - log p_float64| over every position and token of one plain float32
    forward per sequence: the rounding error of float32 on these inputs."""
    worst = 0.0
    for ids in sequences:
        x = torch.tensor([list(ids)])
        lp32 = torch.log_softmax(lm.model(x).logits[0].double(), -1)
        lp64 = torch.log_softmax(_double(lm)(x).logits[0], -1)
        worst = max(worst, float((lp32 - lp64).abs().max()))
    return worst


def tolerance(lm, sequences: Sequence[Sequence[int]]) -> float:
    """Allowed |difference| between two float32 readings of log-probabilities (or of
    probabilities, whose error is at most p times that) on these inputs."""
    return FACTOR * max(float32_error(lm, sequences), float(torch.finfo(torch.float32).eps))
