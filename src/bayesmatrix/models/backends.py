"""Which backend serves a kind of model reference (models.reference: backend_for), and what
it can ever give, known without loading anything (no torch, no connection): a claim that needs a
capability its backend lacks is skipped before any model loads, with one message
(`capability_message`) whatever the front door.

A backend's instance may give less than its class can (a server started with a logprobs
cap gives no full rows): `LanguageModel.capabilities` is the instance's own answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass

# what claims may require; every backend gives "logprobs"
CAPABILITIES = {
    "logprobs": "log-probabilities of chosen tokens (scores, ICL label words)",
    "full_rows": "whole next-token rows (entropies, majorization, rows checks)",
    "topk_rows": "the top-k of each row (entropy bounds, traces)",
    "hidden_states": "hidden states of any layer (continuity, geometry)",
    "sampling": "sampled continuations (semantic entropy)",
    "streams": "token-by-token extension of many copies of a context (sampled paths)",
}


@dataclass(frozen=True)
class Backend:
    """A backend: the kinds of reference it serves, where its loader lives, what it can give."""

    name: str
    kinds: tuple[str, ...]
    module: str
    factory: str
    capabilities: frozenset[str]

    def load(self, reference: str, **options: object) -> object:
        """The model (imports the backend's module only now)."""
        module = importlib.import_module(f"bayesmatrix.models.{self.module}")
        return getattr(module, self.factory)(reference, **options)


SERVED = frozenset({"logprobs", "full_rows", "topk_rows", "sampling", "streams"})
BACKENDS = (
    Backend("vllm-server", ("server",), "vllm_server", "connect", SERVED),
    Backend("vllm-engine", ("engine",), "vllm_engine", "start_engine", SERVED),
    Backend(
        "learner", ("learner",), "learners", "load_learner", frozenset({"logprobs", "streams"})
    ),
    Backend("hf", ("named", "gguf", "folder", "hub"), "hf", "load_model", frozenset(CAPABILITIES)),
)


def backend_of_kind(kind: str) -> Backend:
    """The backend that serves a kind of reference."""
    return next(b for b in BACKENDS if kind in b.kinds)


def capability_message(
    model: str, backend: str, missing: Iterable[str], claim: str | None = None
) -> str:
    """The one sentence for capabilities a model's backend cannot give, with the way out."""
    lacking = ", ".join(f"{CAPABILITIES[c]} (capability '{c}')" for c in sorted(missing))
    needs = f", which claim '{claim}' needs" if claim else ""
    return (
        f"{model} ({backend}) cannot give {lacking}{needs}; run it on a backend that has it: a "
        "model name, folder or .gguf file loads transformers in this process, which has all"
    )
