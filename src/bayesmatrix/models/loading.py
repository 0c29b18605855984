"""`load` and `Loader`: a model reference to the backend that serves it (models.backends),
imported only when it is used, so this module and the vLLM-server backend need no torch."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import GIB, Resources
from bayesmatrix.models.backends import backend_for
from bayesmatrix.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from bayesmatrix.models.base import LanguageModel


def load(
    name_or_path: str | os.PathLike[str] = DEFAULT_MODEL,
    device: str = "auto",
    dtype: str = "float32",
    device_map: str | None = None,
) -> LanguageModel:
    """Load a named embedded model, a .gguf file, a local HF directory, a cached hub id, a vLLM
    server (`http://host:port/v1?model=NAME`) or vLLM's engine (`vllm:<model folder>`).

    device: "cpu", "cuda", "cuda:1", "mps" or "auto" (CUDA, then MPS, then CPU); dtype of the
    weights: "float32", "bfloat16" or "float16" (statistics are float32 whatever it is);
    device_map="auto" spreads a model too large for one device over the available ones
    (accelerate). A served model's device and dtype are the server's."""
    backend = backend_for(name_or_path)
    if backend.name == "hf":
        return backend.load(name_or_path, device=device, dtype=dtype, device_map=device_map)
    return backend.load(str(name_or_path))


@dataclass(frozen=True)
class Loader:
    """`load` with a placement, for code that loads models by name (sweeps, claims): it also
    says, without loading, what a result computed with it depends on (`identity`)."""

    device: str = "auto"
    dtype: str = "float32"
    device_map: str | None = None

    def __call__(self, name: str | os.PathLike[str]) -> LanguageModel:
        return load(name, self.device, self.dtype, self.device_map)

    def identity(self, name: str | os.PathLike[str]) -> str:
        """The model's identity (weights' file stamps) and, unless float32, the dtype: a
        bfloat16 result is not a float32 one. The device is not part of it: devices differ
        by float rounding only."""
        from bayesmatrix.models.paths import model_identity

        return model_identity(name) + ("" if self.dtype == "float32" else f"|{self.dtype}")

    def check(self) -> Loader:
        """Fail now, with one line, on a device or dtype that cannot be used here."""
        from bayesmatrix.models.hf_load import resolve_device, resolve_dtype

        resolve_device(self.device)
        resolve_dtype(self.dtype)
        if self.device_map not in (None, "auto"):
            raise BayesmatrixError(f"device_map must be None or 'auto', not {self.device_map!r}")
        return self


def model_resources(model: str, device: str = "auto") -> Resources:
    """A job's request for a model: one CPU; one GPU when the device is CUDA; memory about
    three times the weight files (float32 conversion of quantised files, activations).
    A vLLM server does the work itself: a quarter CPU and no memory request."""
    from pathlib import Path

    from bayesmatrix.models.paths import resolve

    kind, where, _ = resolve(model)
    if kind == "remote" and not model.startswith("vllm:"):
        return Resources(num_cpus=0.25)
    if kind == "learner":
        return Resources(num_cpus=1.0)
    gpus = 1.0 if device.startswith("cuda") else 0.0
    size = GIB
    if isinstance(where, Path) and where.is_file():
        size = where.stat().st_size
    elif isinstance(where, Path):
        size = sum(f.stat().st_size for f in where.glob("*.safetensors")) or GIB
    return Resources(num_cpus=1.0, num_gpus=gpus, memory=max(GIB, 3 * size))
