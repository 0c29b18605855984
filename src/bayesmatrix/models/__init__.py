"""Instrumented language models: prompt -> Trace (rows of the LM's next-token matrix).

Names resolve lazily, so `bayesmatrix.models.paths` and `.registry` import without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayesmatrix.models.registry import DEFAULT_MODEL, ModelSpec, list_models

if TYPE_CHECKING:
    from bayesmatrix.models.lm import LanguageModel, Loader, load
    from bayesmatrix.models.trace import Trace

_LAZY = {"LanguageModel": "lm", "Loader": "lm", "load": "lm", "Trace": "trace"}

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
