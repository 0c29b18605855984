"""Which backend serves a model reference, and what it can ever give, known without loading
anything (no torch, no connection): a claim that needs a capability its backend lacks is
skipped before any model loads.

| reference                          | backend                      | module          |
| ---------------------------------- | ---------------------------- | --------------- |
| `http://host:port/v1?model=NAME`   | a vLLM (OpenAI) server       | vllm_server     |
| `vllm:<model folder>`              | vLLM's in-process engine     | vllm_engine     |
| `learner:KIND?key=value`           | a learner by construction    | learners        |
| anything else (name, .gguf, dir)   | transformers, in this process | hf             |

A backend's instance may give less than its class can (a server started with a logprobs
cap gives no full rows): `LanguageModel.capabilities` is the instance's own answer.
"""

from __future__ import annotations

import importlib
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
    """A backend: the references it serves, where its class lives, and what it can give."""

    name: str
    prefixes: tuple[str, ...]
    module: str
    factory: str
    capabilities: frozenset[str]

    def load(self, reference: str, **options: object) -> object:
        """The model (imports the backend's module only now)."""
        module = importlib.import_module(f"bayesmatrix.models.{self.module}")
        return getattr(module, self.factory)(reference, **options)


BACKENDS = (
    Backend(
        "vllm-server",
        ("http://", "https://"),
        "vllm_server",
        "connect",
        frozenset({"logprobs", "full_rows", "topk_rows", "sampling", "streams"}),
    ),
    Backend(
        "vllm-engine",
        ("vllm:",),
        "vllm_engine",
        "start_engine",
        frozenset({"logprobs", "full_rows", "topk_rows", "sampling", "streams"}),
    ),
    Backend(
        "learner",
        ("learner:",),
        "learners",
        "load_learner",
        frozenset({"logprobs", "streams"}),
    ),
    Backend(
        "hf",
        (),
        "hf",
        "load_model",
        frozenset(CAPABILITIES),
    ),
)


def backend_for(reference: object) -> Backend:
    """The backend that serves a model reference (by its prefix; transformers otherwise)."""
    text = str(reference)
    return next(b for b in BACKENDS if not b.prefixes or text.startswith(b.prefixes))


def missing_capabilities(reference: object, required: frozenset[str]) -> list[str]:
    """What a claim requires that the reference's backend can never give (sorted)."""
    return sorted(required - backend_for(reference).capabilities)
