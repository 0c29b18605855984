"""One protocol for every claim the toolkit tests, and the registry the interfaces loop over.

A `Claim` says what it is (name, title, one-line description, the rule its verdicts follow),
what it takes (settings per profile, the data those settings name), how to compute it
(`run(context, data) -> Result`), how to read a saved result back (`load`), its figures and the
command that reproduces them. A Result saves and loads itself and gives its `verdicts()`.
`run_claim` is the one way results are computed: each (claim, model) result is saved under a
fingerprint of every input (see bayesmatrix.results.store), reused only for exactly those inputs.

This layer sits above the computations (experiments/, windtunnel/, matrix/) and the figures
(viz/), and below the interfaces (cli/, report/, server/). Adding a claim: write its Result
(computation, save/load, verdicts) where it belongs, then one file here that registers it
(`CLAIM = register(Claim(...))`), and add that file's name to CLAIM_MODULES; the CLI's
`claims`, `validate`, its `verdicts.json`, the HTML report and the explorer's `/api/claims`
pick it up.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor
from bayesmatrix.models.paths import model_identity
from bayesmatrix.results.outdir import safe_name
from bayesmatrix.results.store import cached, digest
from bayesmatrix.results.verdicts import Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayesmatrix.models import LanguageModel

Scope = Literal["model", "models", "none"]
PROFILE_NAMES = ("test", "quick", "full")
# the modules whose import registers a claim, in report order
CLAIM_MODULES = tuple(
    f"bayesmatrix.claims.{name}"
    for name in (
        "rows",
        "prior",
        "icl",
        "martingale",
        "martingale_paths",
        "order",
        "continuity",
        "entropy",
        "cot",
        "hallucination",
        "semantic_entropy",
        "geometry",
        "windtunnel",
        "matrix",
    )
)


class Result(Protocol):
    """What a claim's run returns."""

    def save(self, directory: str | Path) -> Path: ...

    def verdicts(self) -> list[Verdict]: ...


@dataclass
class Context:
    """What a run may use: its settings, the model(s), a loader, a folder for resumable work."""

    settings: Mapping[str, Any]
    out: Path
    models: Sequence[str]
    load: Callable[[str], LanguageModel]
    progress: Callable[[str], None] = lambda _: None
    force: bool = False
    executor: Executor | None = None  # where a claim's independent units run (None: here)

    @property
    def model(self) -> str:
        """The one model of a per-model claim."""
        return self.models[0]


@dataclass(frozen=True)
class ClaimFigure:
    """A figure of a claim: file stem, the figure, the command that reproduces it."""

    stem: str
    figure: Figure
    command: str

    def __post_init__(self) -> None:  # a stem from a task's name never climbs out of --out
        object.__setattr__(self, "stem", safe_name(self.stem))


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, as one unit (see the module docstring)."""

    name: str
    title: str
    description: str
    rule: str  # the verdict rule and its thresholds, in a sentence (shown in the report)
    scope: Scope  # one result per model, one for all models, or none needs a model
    profiles: Mapping[str, Mapping[str, Any]]  # settings per profile; a missing profile skips
    run: Callable[[Context, Any], Any]
    load: Callable[[Path], Any]
    figures: Callable[[Sequence[Any], Sequence[str], Mapping[str, Any]], list[ClaimFigure]]
    data: Callable[[Mapping[str, Any]], Any] = lambda _: None  # data the settings name
    note: Callable[[Sequence[Any]], str] = lambda _: ""

    def settings(self, profile: str, **overrides: Any) -> dict[str, Any]:
        """The settings of a profile, with overrides (e.g. from CLI options)."""
        if profile not in self.profiles:
            raise BayesmatrixError(
                f"claim '{self.name}' has no profile '{profile}'; it has {', '.join(self.profiles)}"
            )
        unknown = set(overrides) - set(self.profiles[profile])
        if unknown:
            raise BayesmatrixError(f"claim '{self.name}' has no settings {sorted(unknown)}")
        return {**self.profiles[profile], **overrides}


def validate_figure(
    stem: str, figure: Figure, claim: str, models: Sequence[str], profile: str = "full"
) -> list[ClaimFigure]:
    """A claim's one figure, reproduced by `bayesmatrix validate` of that claim alone."""
    flags = " ".join(f"--model {m}" for m in models)
    command = f"bayesmatrix validate {flags} --profile {profile} --claims {claim}"
    return [ClaimFigure(stem, figure, command)]


_REGISTRY: dict[str, tuple[str, Claim]] = {}  # name -> (registering module, claim)


def register(claim: Claim) -> Claim:
    """Add a claim to the registry (once per name) and return it."""
    module = sys._getframe(1).f_globals.get("__name__", "")
    if claim.name in _REGISTRY and _REGISTRY[claim.name][1] is not claim:
        raise ValueError(f"claim '{claim.name}' is registered twice")
    _REGISTRY[claim.name] = (module, claim)
    return claim


def list_claims() -> list[Claim]:
    """Every registered claim, in report order (the order of CLAIM_MODULES)."""
    for module in CLAIM_MODULES:
        importlib.import_module(module)
    order = {m: i for i, m in enumerate(CLAIM_MODULES)}
    ranked = sorted(_REGISTRY.values(), key=lambda mc: order.get(mc[0], len(order)))
    return [claim for _, claim in ranked]


def get_claim(name: str) -> Claim:
    """A registered claim by name; the error lists the names."""
    claims = {c.name: c for c in list_claims()}
    if name not in claims:
        raise BayesmatrixError(f"unknown claim '{name}'; claims are {', '.join(claims)}")
    return claims[name]


def run_claim(
    claim: Claim,
    models: Sequence[str],
    settings: Mapping[str, Any],
    out: str | Path,
    load: Callable[[str], LanguageModel],
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    executor: Executor | None = None,
) -> list[Any]:
    """The claim's results (one per model for per-model claims), each saved under `out` with a
    fingerprint of its inputs and reused only for exactly those inputs (see store.cached).
    A model's identity comes from `load.identity` when the loader has one (models.Loader:
    the weights and their dtype), else from the weights alone."""
    out = Path(out)
    data = claim.data(settings)
    base = {"claim": claim.name, "settings": dict(settings), "data": digest(data)}

    identity = getattr(load, "identity", model_identity)

    def one(where: Path, names: Sequence[str]) -> Any:
        inputs = {**base, "models": [identity(m) for m in names]}
        context = Context(settings, where, names, load, progress, force, executor)

        return cached(where, inputs, claim.load, lambda: claim.run(context, data), force)

    if claim.scope == "model":
        return [one(out / safe_name(name.replace("/", "__")), [name]) for name in models]
    return [one(out, list(models) if claim.scope == "models" else [])]


def verdicts_of(results: Sequence[Any]) -> list[Verdict]:
    """All verdicts of a claim's results, in order."""
    return [v for r in results for v in r.verdicts()]
