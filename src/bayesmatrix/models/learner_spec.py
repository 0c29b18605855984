"""A learner-by-construction reference, `learner:KIND[?key=value&...]`, parsed and checked
without loading anything (models.reference classifies references with it; models.learners
builds the learner)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from bayesmatrix.errors import ModelNotFoundError
from bayesmatrix.models.options import query_options

PREFIX = "learner:"
KINDS = ("bayesian", "recency", "discount", "ignorer")
KEYS = {
    "kappa": "prior strength in pseudo-counts (2)",
    "prior": "prior probability that a shown label is the true one (0.7)",
    "prior_spread": "standard deviation of the per-input prior on the logit scale (0)",
    "window": "observations a recency learner remembers (4)",
    "decay": "weight a discounting learner keeps per step (0.8)",
    "noise": "standard deviation of Gaussian noise on the logit of each reading (0)",
    "seed": "seed of the noise and of the per-input priors (0)",
    "tokenizer": "whose tokenizer reads the prompt (smollm2-135m)",
    "task": "an extra ICL task file whose inputs the learner knows",
}


@dataclass(frozen=True)
class LearnerSpec:
    """A learner's kind and parameters, parsed from its reference (see KEYS)."""

    kind: str
    kappa: float = 2.0
    prior: float = 0.7
    prior_spread: float = 0.0
    window: int = 4
    decay: float = 0.8
    noise: float = 0.0
    seed: int = 0
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
        pairs = query_options(query, KEYS, "learner key", "learner:bayesian?kappa=4&noise=0.5")
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for key, text in pairs.items():
            kind_of = {"float": float, "int": int, "str": str}[str(types[key])]
            try:
                values[key] = kind_of(text)
            except ValueError:
                raise ModelNotFoundError(
                    f"learner key {key}={text!r} is not a {kind_of.__name__}"
                ) from None
        # each value was parsed to its field's declared type above
        spec = cls(kind, **values)  # type: ignore[arg-type]
        spec.check()
        return spec

    def check(self) -> None:
        """Every parameter within its range, or one clear error."""
        finite = all(math.isfinite(x) for x in (self.kappa, self.prior_spread, self.noise))
        if not finite:
            raise ModelNotFoundError("learner parameters must be finite numbers")
        if not 0 < self.kappa <= 1e6:
            raise ModelNotFoundError("learner kappa must lie in (0, 10^6]")
        if not 0 < self.prior < 1:
            raise ModelNotFoundError("learner prior must lie strictly between 0 and 1")
        if not 0 <= self.prior_spread <= 10 or not 0 <= self.noise <= 10:
            raise ModelNotFoundError("learner prior_spread and noise must lie in [0, 10]")
        if not 1 <= self.window <= 10**6:
            raise ModelNotFoundError("learner window must be at least 1")
        if not 0 < self.decay <= 1:
            raise ModelNotFoundError("learner decay must lie in (0, 1]")
        if self.seed < 0:
            raise ModelNotFoundError("learner seed must be non-negative")

    def canonical(self) -> str:
        """The reference with every parameter spelled out, in a fixed order."""
        values = asdict(self)
        kind = values.pop("kind")
        return f"{PREFIX}{kind}?" + "&".join(f"{k}={v}" for k, v in values.items())
