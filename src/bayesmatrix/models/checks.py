"""Every reading checked where it enters the library: whatever a backend answers (a server
that sends NaN or log-probabilities above zero, rows that do not sum to one, a learner with a
bug), no verdict is computed from it. LanguageModel wraps each reading method of every backend
with the check of its kind (`CHECKS`); a bad reading raises `InvalidReadingError`, one line
naming the backend, the model, the method and the value.

What holds for a valid reading: log-probabilities are not NaN and at most LOGP_TOL above zero
(-inf is a probability of zero); probabilities lie in [0, 1] up to PROB_TOL; a full row
sums to one within ROW_TOL (float32 softmax over a 262k vocabulary rounds to about 1e-5);
entropies lie in [0, log V]. Tolerances are float rounding, not leniency: a server answering
log-probability +2 (p = 7.4) is refused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bayesmatrix.errors import BayesmatrixError

LOGP_TOL = 1e-3
PROB_TOL = 1e-3
ROW_TOL = 1e-3


class InvalidReadingError(BayesmatrixError):
    """A backend answered a reading that cannot be a probability (see the module docstring)."""


def _array(value: Any) -> np.ndarray:
    """A float64 array of a numpy array, list or torch tensor (duck-typed: no torch import)."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


class Reading:
    """Where a reading came from, for the one-line error."""

    def __init__(self, model: Any, method: str) -> None:
        self.model, self.method = model, method

    def fail(self, what: str) -> InvalidReadingError:
        backend = type(self.model).__name__
        name = getattr(self.model, "name", "?")
        return InvalidReadingError(
            f"{backend} {name} gave an invalid reading in {self.method}: {what}; no result is "
            "computed from it (is the backend or server serving this model correctly? "
            "`bayesmatrix models --probe` shows what it answers)"
        )

    def logprobs(self, value: Any, what: str = "log-probability") -> np.ndarray:
        """Log-probabilities: not NaN, none above zero (beyond rounding)."""
        a = _array(value)
        if np.isnan(a).any():
            raise self.fail(f"a {what} that is NaN")
        if a.size and np.nanmax(a) > LOGP_TOL:
            raise self.fail(f"a {what} of {np.nanmax(a):+.4g} (log-probabilities are <= 0)")
        return a

    def probabilities(self, value: Any, what: str = "probability") -> np.ndarray:
        """Probabilities: finite and in [0, 1] (beyond rounding)."""
        a = _array(value)
        if not np.isfinite(a).all():
            raise self.fail(f"a {what} that is not finite")
        if a.size and (a.min() < -PROB_TOL or a.max() > 1 + PROB_TOL):
            worst = a.max() if a.max() > 1 + PROB_TOL else a.min()
            raise self.fail(f"a {what} of {worst:.4g} (probabilities lie in [0, 1])")
        return a

    def rows(self, value: Any, what: str = "row") -> np.ndarray:
        """Full next-token rows (probabilities along the last axis): each sums to one."""
        a = self.probabilities(value, f"{what} entry")
        if a.size:
            sums = np.ravel(a.sum(axis=-1))
            worst = int(np.argmax(np.abs(sums - 1)))
            if abs(sums[worst] - 1) > ROW_TOL:
                raise self.fail(f"a full {what} that sums to {sums[worst]:.6g}, not 1")
        return a

    def logprob_rows(self, value: Any, columns: Sequence[int] | None) -> None:
        """Log-probability rows [..., V]: the columns read (all when None) are valid, and a
        full row's probabilities sum to one."""
        a = _array(value)
        read = a if columns is None else a[..., list(columns)]
        self.logprobs(read)
        if columns is None and a.size:
            self.rows(np.exp(a), "log-probability row")

    def entropies(self, value: Any, vocab: int) -> None:
        """Entropies (nats): in [0, log V] where given (NaN: not measured)."""
        a = _array(value)
        a = a[~np.isnan(a)]
        if a.size and (a.min() < -LOGP_TOL or a.max() > math.log(max(vocab, 2)) + LOGP_TOL):
            raise self.fail(f"an entropy of {a.min() if a.min() < 0 else a.max():.4g} nats "
                            f"(entropies lie in [0, log {vocab}])")  # fmt: skip


def _traces(traces: list, at: Reading) -> list:
    for trace in traces:
        at.logprobs(trace.logprob_next[:-1], "next-token log-probability")
        at.entropies(trace.entropy, at.model.vocab_size)
        top = at.probabilities(trace.topk_probs, "top-k probability")
        if top.size and (top.sum(axis=-1) > 1 + ROW_TOL).any():
            raise at.fail("top-k probabilities that sum to more than 1")
        if trace.rows is not None:
            at.rows(trace.rows)
    return traces


def _samples(samples: list, at: Reading) -> list:
    for sample in samples:
        at.logprobs(sample.logprobs, "sampled token's log-probability")
        at.entropies([sample.content_row_entropy], at.model.vocab_size)
        if not math.isnan(sample.content_row_top1):
            at.probabilities([sample.content_row_top1], "top-1 probability")
    return samples


def _many(values: list, at: Reading) -> list:
    for value in values:
        at.logprobs(value)
    return values


class CheckedStream:
    """A backend's stream whose every reading is checked: its first rows and each feed's
    (the columns the caller reads when it named them; whole rows otherwise)."""

    def __init__(self, inner: Any, columns: Sequence[int] | None, at: Reading) -> None:
        self._inner, self._columns, self._at = inner, columns, at
        at.logprob_rows(inner.logprobs, columns)

    def feed(self, tokens: Any) -> Any:
        out = self._inner.feed(tokens)
        self._at.logprob_rows(out, self._columns)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _stream(inner: Any, at: Reading, args: tuple, kwargs: dict) -> CheckedStream:
    tokens = kwargs.get("tokens", args[2] if len(args) > 2 else None)
    return CheckedStream(inner, None if tokens is None else [int(t) for t in tokens], at)


def _values(check: Callable[[Any, Reading], Any]) -> Callable[..., Any]:
    return lambda value, at, args, kwargs: check(value, at)


# the reading methods of LanguageModel and how each result is checked
CHECKS: dict[str, Callable[..., Any]] = {
    "trace_many": _values(_traces),
    "next_rows": _values(lambda v, at: (at.rows(v), v)[1]),
    "rows_from_hidden": _values(lambda v, at: (at.rows(v), v)[1]),
    "continuation_logprobs": _values(lambda v, at: (at.logprobs(v), v)[1]),
    "continuation_logprobs_many": _values(_many),
    "score_split": _values(lambda v, at: (at.logprobs(v, "summed log-probability"), v)[1]),
    "sample": _values(_samples),
    "stream": _stream,
}


def checked(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    """The reading method with its result checked (CHECKS[name])."""
    check = CHECKS[name]

    @functools.wraps(method)
    def reading(self: Any, *args: Any, **kwargs: Any) -> Any:
        return check(method(self, *args, **kwargs), Reading(self, name), args, kwargs)

    # a marker on the wrapper function (read with getattr), not an attribute mypy knows
    reading.__checked__ = True  # type: ignore[attr-defined]
    return reading
