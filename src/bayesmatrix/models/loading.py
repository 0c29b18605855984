"""`load` and the loaders: a model reference to the backend that serves it (models.backends),
imported only when it is used, so this module and the vLLM-server backend need no torch.

A loader is what code that loads models by name is given (sweeps, claims, validation, the
executors): it loads with one placement, and says without loading what a result computed
with a model depends on (`identity`) and what a job with it asks of a scheduler
(`resources`). `Loader.kept()` keeps the last model loaded in this process (one at a time),
for the jobs of a worker; `Preloaded` serves models already in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError
from bayesmatrix.executor import GIB, Resources
from bayesmatrix.models.reference import ModelRef
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
    server (`http://host:port/v1?model=NAME`), vLLM's engine (`vllm:<model folder>`) or a
    learner by construction (`learner:KIND?key=value`).

    device: "cpu", "cuda", "cuda:1", "mps" or "auto" (CUDA, then MPS, then CPU); dtype of the
    weights: "float32", "bfloat16" or "float16" (statistics are float32 whatever it is);
    device_map="auto" spreads a model too large for one device over the available ones
    (accelerate). A served model's device and dtype are the server's."""
    from bayesmatrix.models.base import LanguageModel

    ref = ModelRef.parse(name_or_path)
    if ref.backend.name == "hf":
        model = ref.backend.load(ref.text, device=device, dtype=dtype, device_map=device_map)
    else:
        model = ref.backend.load(ref.text)
    if not isinstance(model, LanguageModel):  # a backend's factory broke its contract
        raise BayesmatrixError(f"the {ref.backend.name} backend gave a {type(model).__name__}")
    return model


@dataclass(frozen=True)
class Loader:
    """`load` with a placement (see the module docstring). `keep`: the last model loaded
    stays in memory for the next call in this process (executor.worker_model)."""

    device: str = "auto"
    dtype: str = "float32"
    device_map: str | None = None
    keep: bool = False

    def __call__(self, name: str | os.PathLike[str]) -> LanguageModel:
        if self.keep:
            from bayesmatrix.executor import worker_model

            return worker_model(self.fresh(), str(name))
        return load(name, self.device, self.dtype, self.device_map)

    def fresh(self) -> Loader:
        """This loader without keeping (what a kept model is loaded with)."""
        return replace(self, keep=False)

    def kept(self) -> Loader:
        """This loader, keeping its last model loaded between calls in this process."""
        return replace(self, keep=True)

    def identity(self, name: str | os.PathLike[str]) -> str:
        """The model's identity (models.reference) and, unless float32, the dtype: a bfloat16
        result is not a float32 one. The device is not part of it: devices differ by float
        rounding only. A served model's identity is read from its server."""
        ref = ModelRef.parse(name)
        if ref.kind == "server":
            from bayesmatrix.models.vllm_server import server_identity

            return server_identity(ref.text)
        return ref.identity() + self.suffix

    def backend(self, name: str | os.PathLike[str]) -> tuple[str, frozenset[str]]:
        """(backend name, what it can ever give) for a model, known without loading it."""
        backend = ModelRef.parse(name).backend
        return backend.name, backend.capabilities

    def missing(self, name: str | os.PathLike[str], required: Iterable[str]) -> list[str]:
        """What `required` names that the model's backend can never give (sorted)."""
        return sorted(set(required) - self.backend(name)[1])

    def parameters(self, name: str | os.PathLike[str]) -> int | None:
        """The model's parameter count when known without loading it (None otherwise)."""
        from bayesmatrix.models.reference import parameter_count

        return parameter_count(name)

    @property
    def suffix(self) -> str:
        """What the placement adds to an identity ('' for float32)."""
        return "" if self.dtype == "float32" else f"|{self.dtype}"

    def resources(self, name: str | os.PathLike[str]) -> Resources:
        """A job's request for a model: one CPU; one GPU when the device is CUDA; memory
        about three times the weight files (float32 conversion of quantised files,
        activations). A vLLM server does the work itself: a quarter CPU, no memory."""
        from pathlib import Path

        ref = ModelRef.parse(name)
        if ref.kind == "server":
            return Resources(num_cpus=0.25)
        if ref.kind == "learner":
            return Resources(num_cpus=1.0)
        gpus = 1.0 if self.device.startswith("cuda") else 0.0
        where = Path(ref.location) if ref.kind != "hub" else None
        size = GIB
        if where is not None and where.is_file():
            size = where.stat().st_size
        elif where is not None:
            size = sum(f.stat().st_size for f in where.glob("*.safetensors")) or GIB
        return Resources(num_cpus=1.0, num_gpus=gpus, memory=max(GIB, 3 * size))

    def check(self) -> Loader:
        """Fail now, with one line, on a device or dtype that cannot be used here."""
        from bayesmatrix.models.hf_load import resolve_device, resolve_dtype

        resolve_device(self.device)
        resolve_dtype(self.dtype)
        if self.device_map not in (None, "auto"):
            raise BayesmatrixError(f"device_map must be None or 'auto', not {self.device_map!r}")
        return self


class Preloaded(Loader):
    """A loader of models already in memory, by the names given (tests, notebooks, a model
    built in this process): its identity and capabilities are the model's own."""

    models: dict[str, LanguageModel]

    def __init__(self, models: LanguageModel | Mapping[str, LanguageModel]) -> None:
        super().__init__()
        given = models if isinstance(models, Mapping) else {models.name: models}
        object.__setattr__(self, "models", dict(given))

    def model(self, name: str | os.PathLike[str]) -> LanguageModel:
        """The model a name stands for (the only one, whatever the name, when one is given)."""
        models = self.models
        if len(models) == 1 and str(name) not in models:
            return next(iter(models.values()))
        if str(name) not in models:
            raise ModelNotFoundError(f"no model '{name}' here; have {', '.join(models)}")
        return models[str(name)]

    def __call__(self, name: str | os.PathLike[str]) -> LanguageModel:
        return self.model(name)

    def kept(self) -> Loader:
        return self

    def identity(self, name: str | os.PathLike[str]) -> str:
        return self.model(name).identity

    def backend(self, name: str | os.PathLike[str]) -> tuple[str, frozenset[str]]:
        model = self.model(name)
        return type(model).__name__, frozenset(model.capabilities)

    def resources(self, name: str | os.PathLike[str]) -> Resources:
        return Resources()

    def parameters(self, name: str | os.PathLike[str]) -> int | None:
        return self.model(name).num_parameters or None

    def __repr__(self) -> str:
        return f"Preloaded({', '.join(self.models)})"
