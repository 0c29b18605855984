"""The claims bayesmatrix knows, found rather than listed, and the one way results are computed.

Discovery (`list_claims`): every module of the `bayesmatrix.claims` package (but those whose
name starts with `_`, and the protocol's own `claim` and `registry`) is imported, and each
registers its claim on import (`CLAIM = register(Claim(...))`); then every entry point of the
group `bayesmatrix.claims` is loaded, so an installed package adds claims without touching
this one (its entry point names a module that registers, or a Claim). No file lists claims.

`run_claim` computes a claim's results (one per model for per-model claims), each saved under
a fingerprint of every input (claim, its version, settings, data, model identities), reused
only for exactly those inputs (see bayesmatrix.results.store).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesmatrix.claims.claim import Claim, Context
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.models.backends import CAPABILITIES, backend_for, missing_capabilities
from bayesmatrix.models.paths import model_identity
from bayesmatrix.results.outdir import safe_name
from bayesmatrix.results.store import cached, digest

if TYPE_CHECKING:
    from bayesmatrix.executor import Executor
    from bayesmatrix.models.base import LanguageModel

ENTRY_POINT_GROUP = "bayesmatrix.claims"
_PROTOCOL = {"claim", "registry"}
_REGISTRY: dict[str, Claim] = {}
_DISCOVERED: list[bool] = []


def register(claim: Claim) -> Claim:
    """Add a claim to the registry (once per name) and return it."""
    module = sys._getframe(1).f_globals.get("__name__", "")
    known = _REGISTRY.get(claim.name)
    if known is not None and known is not claim and known.source != module:
        raise ValueError(
            f"claim '{claim.name}' is registered twice (by {known.source} and by {module})"
        )
    object.__setattr__(claim, "source", module)
    _REGISTRY[claim.name] = claim
    return claim


def discover() -> None:
    """Import every claim module of the package and load the entry points (once)."""
    if _DISCOVERED:
        return
    import bayesmatrix.claims as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name not in _PROTOCOL:
            importlib.import_module(f"{package.__name__}.{info.name}")
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plug-in is named, not a traceback
            raise BayesmatrixError(
                f"the claim plug-in {point.name} ({point.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(loaded, Claim):
            register(loaded)
    _DISCOVERED.append(True)


def list_claims() -> list[Claim]:
    """Every claim found, in report order (its `order`, then its name)."""
    discover()
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


def get_claim(name: str) -> Claim:
    """A claim by name; the error lists the names."""
    claims = {c.name: c for c in list_claims()}
    if name not in claims:
        raise BayesmatrixError(f"unknown claim '{name}'; claims are {', '.join(claims)}")
    return claims[name]


def run_claim(
    claim: Claim,
    models: Sequence[str],
    settings: Mapping[str, Any],
    out: str | Path,
    load_model: Callable[[str], LanguageModel],
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    executor: Executor | None = None,
) -> list[Any]:
    """The claim's results (one per model for per-model claims), each saved under `out`
    with a fingerprint of its inputs and reused only for exactly those inputs (see
    results.store.cached). A model's identity comes from `load_model.identity` when the
    loader has one (models.Loader: the weights and their dtype), else from the weights."""
    out = Path(out)
    for name in models if claim.scope != "none" else ():
        lacking = missing_capabilities(name, claim.requires)
        if lacking:  # before any model loads or anything is written
            raise CapabilityError(
                f"{name} ({backend_for(name).name}) cannot give "
                + ", ".join(f"{CAPABILITIES[c]} (capability '{c}')" for c in lacking)
                + f", which claim '{claim.name}' needs; run it on a backend that has it (a "
                "model name, folder or .gguf file loads transformers in this process)"
            )
    data = claim.data(settings)
    base = {
        "claim": claim.name,
        "version": claim.version,
        "settings": dict(settings),
        "data": digest(data),
    }
    identity = getattr(load_model, "identity", model_identity)

    def one(where: Path, names: Sequence[str]) -> Any:
        inputs = {**base, "models": [identity(m) for m in names]}
        context = Context(settings, where, names, load_model, progress, force, executor)
        return cached(where, inputs, claim.read, lambda: claim.run(context, data), force)

    if claim.scope == "model":
        return [one(out / safe_name(name.replace("/", "__")), [name]) for name in models]
    return [one(out, list(models) if claim.scope == "models" else [])]
