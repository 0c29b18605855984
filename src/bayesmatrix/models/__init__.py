"""Language models behind one interface (models.base.LanguageModel): transformers in this
process (models.hf), a vLLM server (models.vllm_server), vLLM's engine (models.vllm_engine).
`load(reference)` picks the backend by the reference (models.backends). Names resolve lazily,
so `bayesmatrix.models`, `.base`, `.paths`, `.registry` and `.vllm_server` import without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayesmatrix.models.registry import DEFAULT_MODEL, ModelSpec, list_models

if TYPE_CHECKING:
    from bayesmatrix.models.base import LanguageModel
    from bayesmatrix.models.loading import Loader, load
    from bayesmatrix.models.trace import Trace

_LAZY = {"LanguageModel": "base", "Loader": "loading", "load": "loading", "Trace": "trace"}

__all__ = [
    "DEFAULT_MODEL",
    "LanguageModel",
    "Loader",
    "ModelSpec",
    "Trace",
    "list_models",
    "load",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bayesmatrix.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bayesmatrix.models' has no attribute {name!r}")
