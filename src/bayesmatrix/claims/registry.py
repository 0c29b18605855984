"""The claims bayesmatrix knows, found rather than listed, and the one way results are computed.

Discovery (`list_claims`): every module of the `bayesmatrix.claims` package (but those whose
name starts with `_`, and the protocol's own `claim` and `registry`) is imported, and each
registers its claim on import (`CLAIM = register(Claim(...))`); then every entry point of the
group `bayesmatrix.claims` is loaded, so an installed package adds claims without touching
this one (its entry point names a module that registers, or a Claim). No file lists claims.
A plug-in that fails to import, or registers a claim whose name another distribution already
has, is reported in one line (logging) and skipped: the built-ins and the other plug-ins keep
working.

`run_claim` computes a claim's results (one per model for per-model claims), each saved under
a fingerprint of every input (claim, its version, settings, data, model identities), reused
only for exactly those inputs (see bayesmatrix.results.store). It is every front door's way
in (CLI, `bayesmatrix.run`, validation, the executors), so the guards live here: settings
checked by the claim, the models' backends able to give what the claim needs, no model given
twice (by identity: a name and its .gguf path are one model), the output folder one the run
may write to, and a result that is a result.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesmatrix.claims.claim import Claim, Context
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.models.backends import capability_message
from bayesmatrix.models.loading import Loader
from bayesmatrix.results.outdir import claim_output_dir, safe_name
from bayesmatrix.results.store import cached, digest

if TYPE_CHECKING:
    from bayesmatrix.executor import Executor

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "bayesmatrix.claims"
BUILT_IN = "bayesmatrix"
_PROTOCOL = {"claim", "registry"}
_REGISTRY: dict[str, Claim] = {}
_DISTRIBUTION: dict[str, str] = {}  # claim name -> the distribution that registered it
_LOADING: list[str] = []  # the distribution whose plug-in is being imported
_DISCOVERED: list[bool] = []


def register(claim: Claim) -> Claim:
    """Add a claim to the registry (once per name) and return it. A name already registered
    by another module is refused, naming both."""
    module = sys._getframe(1).f_globals.get("__name__", "")
    distribution = _LOADING[-1] if _LOADING else BUILT_IN
    known = _REGISTRY.get(claim.name)
    if known is not None and known is not claim and known.source != module:
        raise BayesmatrixError(
            f"claim '{claim.name}' is registered twice: by {known.source} (distribution "
            f"{_DISTRIBUTION.get(claim.name, BUILT_IN)}) and by {module} (distribution "
            f"{distribution}); rename one"
        )
    object.__setattr__(claim, "source", module)
    _REGISTRY[claim.name] = claim
    _DISTRIBUTION[claim.name] = distribution
    return claim


def discover() -> None:
    """Import every claim module of the package and load the entry points (once)."""
    if _DISCOVERED:
        return
    import bayesmatrix.claims as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name not in _PROTOCOL:
            importlib.import_module(f"{package.__name__}.{info.name}")
    _DISCOVERED.append(True)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        load_plugin(point)


def load_plugin(point: Any) -> None:
    """One entry point's claims registered, or one line saying why it is skipped."""
    distribution = getattr(getattr(point, "dist", None), "name", None) or point.value
    before = dict(_REGISTRY)
    _LOADING.append(distribution)
    try:
        loaded = point.load()
        if isinstance(loaded, Claim):
            register(loaded)
    except Exception as exc:  # any error of a plug-in is its own: skip it, keep the rest
        _REGISTRY.clear()
        _REGISTRY.update(before)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning(
            "the claim plug-in %s (%s, distribution %s) is skipped: %s%s",
            point.name, point.value, distribution, type(exc).__name__,
            f": {first}" if first else "",
        )  # fmt: skip
    finally:
        _LOADING.pop()


def list_claims() -> list[Claim]:
    """Every claim found, in report order (its `order`, then its name)."""
    discover()
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


def get_claim(name: str) -> Claim:
    """A claim by name; the error lists the names."""
    if not isinstance(name, str):
        raise BayesmatrixError(f"a claim is named by text, not {type(name).__name__}")
    claims = {c.name: c for c in list_claims()}
    if name not in claims:
        raise BayesmatrixError(f"unknown claim '{name}'; claims are {', '.join(claims)}")
    return claims[name]


def distribution_of(claim: Claim) -> str:
    """The distribution that registered a claim ('bayesmatrix' for the built-ins)."""
    return _DISTRIBUTION.get(claim.name, BUILT_IN)


def check_models(claim: Claim, models: Sequence[str], load_model: Loader) -> list[str]:
    """The models' identities, after refusing what cannot run: a backend that can never give
    what the claim needs (before anything loads), a model given twice."""
    names = [str(m) for m in models]
    if claim.scope == "none":
        return []
    if not names:
        raise BayesmatrixError(f"claim '{claim.name}' needs at least one model")
    for name in names:
        lacking = load_model.missing(name, claim.requires)
        if lacking:
            backend = load_model.backend(name)[0]
            raise CapabilityError(capability_message(name, backend, lacking, claim.name))
    identities = distinct_models(names, load_model)
    if claim.scope == "model" and len(set(map(model_folder, names))) < len(names):
        raise BayesmatrixError("two models would share one results folder; rename one")
    return identities


def distinct_models(models: Sequence[str], load_model: Loader) -> list[str]:
    """The models' identities; a model given twice (by identity: a name and its .gguf path
    are one model) is one clear error."""
    identities = [load_model.identity(name) for name in models]
    seen: dict[str, str] = {}
    for name, identity in zip(models, identities, strict=True):
        if identity in seen:
            same = "" if seen[identity] == name else f" (the same weights as {seen[identity]})"
            raise BayesmatrixError(
                f"model {name} is given twice{same}; a model compared with itself proves "
                "nothing: pass each model once"
            )
        seen[identity] = name
    return identities


def model_folder(name: str) -> str:
    """The folder of a per-model claim's result for one model (a safe path component)."""
    return safe_name(name.replace("/", "__"))


def run_claim(
    claim: Claim,
    models: Sequence[str],
    settings: Mapping[str, Any],
    out: str | Path,
    load_model: Loader | None = None,
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    executor: Executor | None = None,
) -> list[Any]:
    """The claim's results (one per model for per-model claims), each saved under `out`
    with a fingerprint of its inputs and reused only for exactly those inputs (see
    results.store.cached). Settings are checked by the claim (configure), the models as
    check_models says, and `out` must be a folder the run may write to (results.outdir)."""
    if not isinstance(claim, Claim):
        raise BayesmatrixError(f"run_claim needs a Claim (get_claim(name)), not {claim!r}")
    if isinstance(models, str):
        raise BayesmatrixError("pass models as a list of references, e.g. ['smollm2-135m']")
    load_model = load_model if load_model is not None else Loader()
    if not isinstance(load_model, Loader):
        raise BayesmatrixError(
            "load_model must be a models.Loader (Loader() for a placement, Preloaded(model) "
            f"for a model already loaded), not {type(load_model).__name__}"
        )
    settings = claim.check(settings)
    identities = check_models(claim, models, load_model)
    out = claim_output_dir(_folder(out))
    data = claim.data(settings)
    base = {
        "claim": claim.name,
        "version": claim.version,
        "settings": dict(settings),
        "data": digest(data),
    }
    by_name = dict(zip(map(str, models), identities, strict=False))

    def one(where: Path, names: Sequence[str]) -> Any:
        inputs = {**base, "models": [by_name[m] for m in names]}
        context = Context(settings, where, names, load_model, progress, force, executor)
        result = cached(where, inputs, claim.read, lambda: _result(claim, context, data), force)
        return result

    names = [str(m) for m in models]
    if claim.scope == "model":
        return [one(out / model_folder(name), [name]) for name in names]
    return [one(out, names if claim.scope == "models" else [])]


def _result(claim: Claim, context: Context, data: Any) -> Any:
    """The claim's run, checked to be a result (it saves itself and judges)."""
    result = claim.run(context, data)
    if not (
        callable(getattr(result, "save", None)) and callable(getattr(result, "verdicts", None))
    ):
        raise BayesmatrixError(
            f"claim '{claim.name}' ({claim.source}) returned {type(result).__name__}, not a "
            "result with save() and verdicts(); fix its run function"
        )
    return result


def _folder(out: object) -> Path:
    """`out` as a folder path; anything else is one clear error."""
    if not isinstance(out, str | Path) or not str(out).strip():
        raise BayesmatrixError(f"out must be a folder path, not {out!r}")
    return Path(out)
