"""Instrumented language models: prompt -> Trace (rows of the LM's next-token matrix)."""

from bayesmatrix.models.lm import LanguageModel, load
from bayesmatrix.models.registry import DEFAULT_MODEL, ModelSpec, list_models
from bayesmatrix.models.trace import Trace

__all__ = ["DEFAULT_MODEL", "LanguageModel", "ModelSpec", "Trace", "list_models", "load"]
