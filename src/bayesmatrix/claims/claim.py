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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, Self, TypeVar

import numpy as np

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayesmatrix.executor import Executor
    from bayesmatrix.models.loading import Loader

Scope = Literal["model", "models", "none"]
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
PROFILE_NAMES = ("test", "quick", "full")


class Result(Protocol):
    """What a claim's run returns: it saves itself, is read back by its class, and judges."""

    def save(self, directory: str | Path) -> Path: ...

    def verdicts(self) -> list[Verdict]: ...

    @classmethod
    def load(cls, directory: str | Path) -> Self: ...


R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Setting:
    """One setting of a claim: its kind ('int', 'float', 'str', 'bool', or a list of one of
    those: 'list[str]', ...), bounds, the choices it may take, whether `none` is allowed,
    and what it means. Values are checked alike whether they come as `-s key=value` text
    (`parse`) or from Python (`check`): types strictly (a bool is not an int, a scalar is not
    a list), lists without repeats (a value given twice would be counted twice), numbers within
    their bounds (every int has an upper bound: a typo cannot start a week-long job).
    `format` writes a value back as `-s` text (lists comma-separated)."""

    help: str
    kind: str = "int"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False  # None (written `none`) allowed: e.g. "the shipped file"

    def __post_init__(self) -> None:
        if self.item_kind not in KINDS:
            raise ValueError(f"setting kind {self.kind!r}: use one of {KINDS} or list[...] of one")
        if self.item_kind == "int" and self.max is None:
            raise ValueError("an int setting needs a max (it may size the work)")

    @property
    def is_list(self) -> bool:
        return self.kind.startswith("list[")

    @property
    def item_kind(self) -> str:
        return self.kind[5:-1] if self.is_list else self.kind

    def parse(self, key: str, text: str) -> Any:
        """The value of `key=text`, checked; a bad value is one clear error."""
        if self.optional and text.strip().lower() in ("none", ""):
            return None
        if self.is_list:
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if not parts:
                raise BayesmatrixError(f"setting {key} needs at least one value, e.g. {key}=a,b")
            return self.check(key, [self._scalar(key, p) for p in parts])
        return self.check(key, self._scalar(key, text))

    def _scalar(self, key: str, text: str) -> Any:
        kind, text = self.item_kind, text.strip()
        try:
            if kind == "int":
                return int(text)
            if kind == "float":
                return float(text)
            if kind == "bool":
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("not a boolean")
                return text.lower() in ("true", "1", "yes")
        except ValueError:
            raise BayesmatrixError(
                f"setting {key}={text!r} is not {'an' if kind == 'int' else 'a'} {kind}"
            ) from None
        return text

    def check(self, key: str, value: Any) -> Any:
        """`value` (normalised: a tuple becomes a list, an int a float where a float is
        asked for) when it has this setting's kind and lies within its bounds and choices."""
        if value is None:
            if self.optional:
                return None
            raise BayesmatrixError(f"setting {key} needs a value ({self.help})")
        if self.is_list:
            if not isinstance(value, list | tuple):
                raise BayesmatrixError(
                    f"setting {key}={value!r} is one value; {key} takes a list of "
                    f"{self.item_kind}s, e.g. {key}=[{value!r}]"
                )
            if not value:
                raise BayesmatrixError(f"setting {key} needs at least one value")
            items = [self._item(key, v) for v in value]
            seen: list[Any] = []
            for item in items:
                if item in seen:
                    raise BayesmatrixError(
                        f"setting {key} has {item!r} given twice; each value would be "
                        "counted again: give it once"
                    )
                seen.append(item)
            return items
        return self._item(key, value)

    def _item(self, key: str, value: Any) -> Any:
        kind = self.item_kind
        if isinstance(value, np.generic):
            value = value.item()
        expected = {"int": int, "float": int | float, "str": str, "bool": bool}[kind]
        if not isinstance(value, expected) or (
            kind in ("int", "float") and isinstance(value, bool)
        ):
            raise BayesmatrixError(
                f"setting {key}={value!r} is a {type(value).__name__}; {key} takes "
                f"{'an' if kind == 'int' else 'a'} {kind} ({self.help})"
            )
        if kind == "float":
            value = float(value)
            if not math.isfinite(value):
                raise BayesmatrixError(f"setting {key}={value} is not a finite number")
        if self.choices is not None and str(value) not in self.choices:
            raise BayesmatrixError(
                f"setting {key}={value!r} is not one of {', '.join(self.choices)}"
            )
        if kind in ("int", "float"):
            low = self.min is not None and value < self.min
            high = self.max is not None and value > self.max
            if low or high:
                bounds = f"{self.min:g}" if self.min is not None else "-inf"
                bounds += f"..{self.max:g}" if self.max is not None else " or more"
                raise BayesmatrixError(f"setting {key}={value} is out of range ({bounds})")
        return value

    def format(self, value: Any) -> str:
        """`value` as `-s` text (the inverse of parse)."""
        if value is None:
            return "none"
        if isinstance(value, list | tuple):
            return ",".join(map(str, value))
        return str(value).lower() if isinstance(value, bool) else str(value)


KINDS = ("int", "float", "str", "bool")


# the learners by construction a claim's rules are calibrated on (report.calibration builds
# them): Bayesian ones (two prior strengths), forgetting ones, and a prior that never moves
S, N = "supported", "not supported"
BAYESIAN_LEARNERS = ("bayesian-exact", "bayesian", "bayesian-strong")
FORGETTING_LEARNERS = ("window-4", "window-8", "decay-0.8")


def right_answers(
    bayesian: str | None, forgetting: str | None, ignorer: str | None
) -> dict[str, str | None]:
    """The right verdict of a rule for each calibration learner (None: not scored). The
    Bayesian learners read with noise (bayesian, bayesian-strong) are Bayesian only up to
    their noise: a rule that checks an exact identity (a martingale, exchangeability) scores
    the noise-free one (bayesian-exact) alone: exact_only."""
    return (
        dict.fromkeys(BAYESIAN_LEARNERS, bayesian)
        | dict.fromkeys(FORGETTING_LEARNERS, forgetting)
        | {"ignorer": ignorer}
    )


def exact_only(answers: dict[str, str | None]) -> dict[str, str | None]:
    """The answers of a rule that checks an exact identity: the noisy Bayesian learners are
    not scored (their noise is a violation of it)."""
    return answers | {"bayesian": None, "bayesian-strong": None}


@dataclass
class Context:
    """What a run may use: its settings, the model(s), a model loader, a folder for
    resumable work, progress, whether to recompute, and where independent units run."""

    settings: Mapping[str, Any]
    out: Path
    models: Sequence[str]
    load_model: Loader
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
    both ways (the contract test and the docs use them); order: its place in the report;
    results_page: the docs page of its measured results."""

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
    # checks across settings (a condition given twice under two spellings, a budget of work
    # several settings make together): raises BayesmatrixError, before any work
    consistent: Callable[[Mapping[str, Any]], None] = lambda _: None
    # how many units of work (progress lines counted) a run of these settings on n models has
    units: Callable[[Mapping[str, Any], int], int | None] = lambda s, n: None
    # the right verdict of each calibrated rule per learner by construction (report.calibration
    # names the learners; None: reported, not scored)
    calibration: Mapping[Rule, Mapping[str, str | None]] = field(default_factory=dict)
    version: int = 1
    order: int = 1000
    # the docs page (under docs/) where its measured results are written up, if any
    results_page: str = ""
    source: str = field(default="", compare=False)  # the module that declared it

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise ValueError(
                f"claim name {self.name!r}: use lower-case letters, digits and '-' (it names "
                "folders and commands)"
            )
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
        settings = {**self.profiles[profile], **checked}
        self.consistent(settings)
        return settings

    def check(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """A complete set of settings, each checked (what run_claim is given, from any
        front door)."""
        if not isinstance(settings, Mapping):
            raise BayesmatrixError(f"settings of claim '{self.name}' must be a mapping")
        missing = sorted(set(self.settings) - set(settings))
        unknown = sorted(set(settings) - set(self.settings))
        if missing or unknown:
            raise BayesmatrixError(
                f"claim '{self.name}' takes the settings {', '.join(self.settings)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(map(str, unknown))}" if unknown else "")
                + " (claim.configure(profile, key=value) fills in a profile's)"
            )
        checked = {k: self.settings[k].check(k, settings[k]) for k in self.settings}
        self.consistent(checked)
        return checked

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
        return self.result.load(directory)

    def reproduce(self, models: Sequence[str], profile: str, settings: Mapping[str, Any]) -> str:
        """The command that reproduces a result: `bayesmatrix run` with the models, the
        profile, and `-s` for every setting that differs from it."""
        import shlex

        parts = ["bayesmatrix", "run", self.name]
        if self.scope != "none":
            for model in models:
                parts += ["--model", str(model)]
        parts += ["--profile", profile]
        base = self.profiles.get(profile, {})
        for key, value in settings.items():
            if key not in base or _differs(base[key], value):
                parts += ["-s", f"{key}={self.settings[key].format(value)}"]
        return shlex.join(parts)

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


def verdicts_of(results: Sequence[Result]) -> list[Verdict]:
    """All verdicts of a claim's results, in order."""
    return [v for r in results for v in r.verdicts()]
