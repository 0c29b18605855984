"""A learner-by-construction reference, `learner:KIND[?key=value&...]`, parsed and checked
without loading anything (models.paths resolves references with it; models.learners builds
the learner)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bayesmatrix.errors import ModelNotFoundError

PREFIX = "learner:"
KINDS = ("bayesian", "recency", "ignorer")
DEFAULTS = {"kappa": 2.0, "prior": 0.7, "window": 4, "tokenizer": "smollm2-135m", "task": ""}


@dataclass(frozen=True)
class LearnerSpec:
    """A learner's kind and parameters, parsed from its reference."""

    kind: str
    kappa: float = 2.0
    prior: float = 0.7
    window: int = 4
    tokenizer: str = "smollm2-135m"
    task: str = ""

    @classmethod
    def parse(cls, reference: str) -> LearnerSpec:
        """`learner:KIND?key=value&...` checked; a bad one says what is allowed."""
        body = reference.removeprefix(PREFIX)
        kind, _, query = body.partition("?")
        if kind not in KINDS:
            raise ModelNotFoundError(
                f"unknown learner '{kind}'; write learner:KIND with KIND one of {', '.join(KINDS)}"
            )
        values: dict[str, object] = {}
        for key, text in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
            if key not in DEFAULTS:
                raise ModelNotFoundError(
                    f"learner key '{key}' is unknown; keys are {', '.join(DEFAULTS)}"
                )
            kind_of = type(DEFAULTS[key])
            try:
                values[key] = kind_of(text)
            except ValueError:
                raise ModelNotFoundError(
                    f"learner key {key}={text!r} is not a {kind_of.__name__}"
                ) from None
        spec = cls(kind, **values)  # type: ignore[arg-type]
        if not (math.isfinite(spec.kappa) and spec.kappa > 0):
            raise ModelNotFoundError("learner kappa must be a positive number")
        if not 0 < spec.prior < 1:
            raise ModelNotFoundError("learner prior must lie strictly between 0 and 1")
        if spec.window < 1:
            raise ModelNotFoundError("learner window must be at least 1")
        return spec
