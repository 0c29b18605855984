"""A claim as one unit: what it says, the settings it takes (with their types and bounds, and
values per profile), how to compute it, the result type that saves, reads and judges itself,
its figures, the backend capabilities it needs, a version, and constructed examples whose
verdicts come out both ways.

The reproducing command of any result is generated here, from the settings that differ from
the profile (`reproduce`), and `parse_setting` reads it back, so a command and a report can
never disagree on what was run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayesmatrix.executor import Executor
    from bayesmatrix.models.base import LanguageModel

Scope = Literal["model", "models", "none"]
PROFILE_NAMES = ("test", "quick", "full")


class Result(Protocol):
    """What a claim's run returns: it saves itself, is read back by its class, and judges."""

    def save(self, directory: str | Path) -> Path: ...

    def verdicts(self) -> list[Verdict]: ...


R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Setting:
    """One setting of a claim: its kind ('int', 'float', 'str', 'bool', or a list of one of
    those: 'list[str]', ...), bounds, the choices it may take, whether `none` is allowed,
    and what it means. `-s key=value` text is parsed and checked by it; `format` writes a
    value back as such text (lists comma-separated)."""

    help: str
    kind: str = "int"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False  # None (written `none`) allowed: e.g. "the shipped file"

    def parse(self, key: str, text: str) -> Any:
        """The value of `key=text`, checked; a bad value is one clear error."""
        if self.optional and text.strip().lower() in ("none", ""):
            return None
        if self.kind.startswith("list["):
            item = self.kind[5:-1]
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if not parts:
                raise BayesmatrixError(f"setting {key} needs at least one value, e.g. {key}=a,b")
            return self.check(key, [self._scalar(key, item, p) for p in parts])
        return self.check(key, self._scalar(key, self.kind, text))

    def _scalar(self, key: str, kind: str, text: str) -> Any:
        text = text.strip()
        try:
            if kind == "int":
                return int(text)
            if kind == "float":
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError("not finite")
                return value
            if kind == "bool":
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("not a boolean")
                return text.lower() in ("true", "1", "yes")
        except ValueError:
            raise BayesmatrixError(
                f"setting {key}={text!r} is not {'an' if kind == 'int' else 'a'} {kind}"
                f"{' (finite)' if kind == 'float' else ''}"
            ) from None
        return text

    def check(self, key: str, value: Any) -> Any:
        """`value` when it has this setting's kind and lies within its bounds and choices."""
        if value is None:
            if self.optional:
                return None
            raise BayesmatrixError(f"setting {key} needs a value")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if self.choices is not None and str(item) not in self.choices:
                raise BayesmatrixError(
                    f"setting {key}={item!r} is not one of {', '.join(self.choices)}"
                )
            if isinstance(item, int | float) and not isinstance(item, bool):
                low = self.min is not None and item < self.min
                high = self.max is not None and item > self.max
                if low or high:
                    bounds = f"{self.min:g}" if self.min is not None else "-inf"
                    bounds += f"..{self.max:g}" if self.max is not None else " or more"
                    raise BayesmatrixError(f"setting {key}={item} is out of range ({bounds})")
        return value

    def format(self, value: Any) -> str:
        """`value` as `-s` text (the inverse of parse)."""
        if value is None:
            return "none"
        if isinstance(value, list | tuple):
            return ",".join(map(str, value))
        return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Context:
    """What a run may use: its settings, the model(s), a model loader, a folder for
    resumable work, progress, whether to recompute, and where independent units run."""

    settings: Mapping[str, Any]
    out: Path
    models: Sequence[str]
    load_model: Callable[[str], LanguageModel]
    progress: Callable[[str], None] = lambda _: None
    force: bool = False
    executor: Executor | None = None  # None: here

    @property
    def model(self) -> str:
        """The one model of a per-model claim."""
        return self.models[0]


@dataclass(frozen=True)
class ClaimFigure:
    """A figure of a claim: file stem (a safe path component), the figure, and the command
    that reproduces it."""

    stem: str
    figure: Figure
    command: str

    def __post_init__(self) -> None:  # a stem from a task's name never climbs out of --out
        from bayesmatrix.results.outdir import safe_name

        object.__setattr__(self, "stem", safe_name(self.stem))


FigureFn = Callable[[Sequence[Any], Sequence[str], Mapping[str, Any]], list[tuple[str, "Figure"]]]


@dataclass(frozen=True)
class Claim(Generic[R]):
    """A claim of the paper (or of a peer's protocol), as one unit (see the module docstring).

    rules: the verdict rule, as Rule objects (each states its own threshold) and the words
    that join them; profiles: settings per profile ('test', 'quick', 'full'; a missing one
    skips the claim in that profile); requires: backend capabilities (see
    models.base.CAPABILITIES); version: part of every saved result's fingerprint (raise it
    when the computation changes); examples: constructed results whose verdicts come out
    both ways (the contract test and the docs use them); order: its place in the report."""

    name: str
    title: str
    description: str
    rules: tuple[Rule | str, ...]
    scope: Scope
    settings: Mapping[str, Setting]
    profiles: Mapping[str, Mapping[str, Any]]
    run: Callable[[Context, Any], R]
    result: type[R]
    figures: FigureFn
    examples: Callable[[], list[R]]
    data: Callable[[Mapping[str, Any]], Any] = lambda _: None  # data the settings name
    note: Callable[[Sequence[R]], str] = lambda _: ""
    requires: frozenset[str] = frozenset()
    version: int = 1
    order: int = 1000
    source: str = field(default="", compare=False)  # the module that declared it

    def __post_init__(self) -> None:
        for profile, values in self.profiles.items():
            if profile not in PROFILE_NAMES:
                raise ValueError(f"claim {self.name}: unknown profile {profile!r}")
            if set(values) != set(self.settings):
                raise ValueError(
                    f"claim {self.name}: profile {profile} sets {sorted(values)}, the claim "
                    f"declares {sorted(self.settings)}"
                )
            for key, value in values.items():
                self.settings[key].check(key, value)

    @property
    def rule(self) -> str:
        """The verdict rule in words, with every threshold from its Rule."""
        return "; ".join(r.sentence() if isinstance(r, Rule) else r for r in self.rules)

    def configure(self, profile: str, **overrides: Any) -> dict[str, Any]:
        """The settings of a profile with overrides (checked against the declared settings)."""
        if profile not in self.profiles:
            raise BayesmatrixError(
                f"claim '{self.name}' has no profile '{profile}'; it has {', '.join(self.profiles)}"
            )
        unknown = sorted(set(overrides) - set(self.settings))
        if unknown:
            raise BayesmatrixError(
                f"claim '{self.name}' has no setting(s) {', '.join(unknown)}; its settings are "
                f"{', '.join(self.settings)}"
            )
        checked = {k: self.settings[k].check(k, v) for k, v in overrides.items()}
        return {**self.profiles[profile], **checked}

    def parse(self, assignments: Sequence[str], profile: str = "full") -> dict[str, Any]:
        """The settings of `profile` with `key=value` assignments (`-s`) applied."""
        overrides: dict[str, Any] = {}
        for text in assignments:
            key, sep, value = text.partition("=")
            key = key.strip()
            if not sep or not key:
                raise BayesmatrixError(f"-s {text!r}: write key=value, e.g. -s seeds=3")
            if key not in self.settings:
                self.configure(profile, **{key: None})  # the error names the settings
            if key in overrides:
                raise BayesmatrixError(f"-s {key} is given twice; pass each setting once")
            overrides[key] = self.settings[key].parse(key, value)
        return self.configure(profile, **overrides)

    def read(self, directory: str | Path) -> R:
        """A saved result of this claim (its result type's load)."""
        return self.result.load(directory)  # type: ignore[attr-defined]

    def reproduce(self, models: Sequence[str], profile: str, settings: Mapping[str, Any]) -> str:
        """The command that reproduces a result: `bayesmatrix run` with the models, the
        profile, and `-s` for every setting that differs from it."""
        parts = ["bayesmatrix", "run", self.name]
        if self.scope != "none":
            parts += [f"--model {m}" for m in models]
        if profile != "full":
            parts.append(f"--profile {profile}")
        base = self.profiles.get(profile, {})
        for key, value in settings.items():
            if key not in base or _differs(base[key], value):
                parts.append(f"-s {key}={_quote(self.settings[key].format(value))}")
        return " ".join(parts)

    def draw(
        self, results: Sequence[R], models: Sequence[str], profile: str, settings: Mapping[str, Any]
    ) -> list[ClaimFigure]:
        """The claim's figures, each with the command that reproduces it."""
        command = self.reproduce(models, profile, settings)
        return [
            ClaimFigure(stem, fig, command) for stem, fig in self.figures(results, models, settings)
        ]


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) != list(b)
    return a != b


def _quote(text: str) -> str:
    """Shell-quote a setting value only when it needs it."""
    import shlex

    return shlex.quote(text) if any(c in text for c in " '\"$`\\;&|<>()*?[]{}~#") else text


def verdicts_of(results: Sequence[Result]) -> list[Verdict]:
    """All verdicts of a claim's results, in order."""
    return [v for r in results for v in r.verdicts()]
