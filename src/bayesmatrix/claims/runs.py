"""A claim run from Python: `bayesmatrix.run("icl", model=..., profile=...)` computes (or
reuses) its results as the CLI's `run` does and returns a ClaimRun: verdicts, figures, the
reproducing command, and a rich display in Jupyter (nothing is printed or drawn as a side
effect)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesmatrix.claims.claim import Claim, verdicts_of
from bayesmatrix.claims.registry import get_claim, run_claim
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.records import VerdictRecord
from bayesmatrix.results.verdicts import Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = {"supported": "#1a7f37", "not supported": "#cf222e", "inconclusive": "#9a6700"}


@dataclass(repr=False)
class ClaimRun:
    """A claim's results on its models at a profile's settings, saved under `out`."""

    claim: Claim
    models: list[str]
    profile: str
    settings: dict[str, Any]
    out: Path
    results: list[Any] = field(default_factory=list)

    def verdicts(self) -> list[Verdict]:
        """Every verdict of the results, in order."""
        return verdicts_of(self.results)

    def records(self) -> list[VerdictRecord]:
        """The verdicts as records (results.records): estimate, interval, rule, model id."""
        from bayesmatrix.claims.records import claim_records
        from bayesmatrix.models.loading import Loader

        return claim_records(
            self.claim, self.results, self.models, Loader(), self.profile, self.settings, None
        )

    @property
    def command(self) -> str:
        """The command line that reproduces this run."""
        return self.claim.reproduce(self.models, self.profile, self.settings)

    def figures(self) -> dict[str, Figure]:
        """The claim's figures by name."""
        drawn = self.claim.draw(self.results, self.models, self.profile, self.settings)
        return {f.stem: f.figure for f in drawn}

    def show(self, name: str | None = None) -> Figure:
        """One figure (the first, or `name`), returned for Jupyter to draw."""
        figures = self.figures()
        if not figures:
            raise BayesmatrixError(f"claim '{self.claim.name}' draws no figure")
        if name is None:
            return next(iter(figures.values()))
        if name not in figures:
            raise BayesmatrixError(f"no figure '{name}'; this run has {', '.join(figures)}")
        return figures[name]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for v in self.verdicts():
            counts[v.status] = counts.get(v.status, 0) + 1
        tally = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no verdicts"
        return f"ClaimRun({self.claim.name}, {', '.join(self.models)}, {self.profile}: {tally})"

    def _repr_html_(self) -> str:
        items = "".join(
            f"<li><b style='color:{COLOURS.get(v.status, '#000')}'>[{escape(v.status)}]</b> "
            f"{escape(v.statement)}: {escape(v.evidence)}</li>"
            for v in self.verdicts()
        )
        smoke = (" <i>(test profile: smoke-level settings, not evidence)</i>"
                 if self.profile == "test" else "")  # fmt: skip
        return (
            f"<div class='bayesmatrix-run'><b>{escape(self.claim.title)}</b> - "
            f"{escape(', '.join(self.models))}, {escape(self.profile)} profile{smoke}"
            f"<ul>{items}</ul><code>{escape(self.command)}</code></div>"
        )


def run(
    claim: str,
    model: str | Sequence[str] = "smollm2-135m",
    profile: str = "quick",
    out: str | Path | None = None,
    force: bool = False,
    device: str = "auto",
    dtype: str = "float32",
    **settings: Any,
) -> ClaimRun:
    """Run one claim as `bayesmatrix run` does: the profile's settings with `settings`
    overriding them (checked as `-s` text is), results saved under `out` (default
    runs/CLAIM, a folder bayesmatrix owns) and reused by a rerun."""
    from bayesmatrix.models.loading import Loader

    chosen = get_claim(claim)
    if isinstance(model, str | Path):
        models = [str(model)]
    elif isinstance(model, Sequence) and all(isinstance(m, str | Path) for m in model):
        models = [str(m) for m in model]
    else:
        raise BayesmatrixError(
            f"model must be a reference or a list of them (e.g. 'smollm2-135m'), not {model!r}"
        )
    values = chosen.configure(profile, **settings)
    where = Path(out) if isinstance(out, str | Path) else Path("runs") / chosen.name
    if out is not None and not isinstance(out, str | Path):
        raise BayesmatrixError(f"out must be a folder path, not {out!r}")
    results = run_claim(chosen, models, values, where, Loader(device, dtype).check(), force=force)
    return ClaimRun(chosen, models, profile, values, where, results)


def _catalogue() -> str:
    """The registered claims with their settings and profiles, for help(run)."""
    from bayesmatrix.claims.registry import list_claims

    lines = ["", "", "Claims (`bayesmatrix claims`; settings checked as `-s key=value` is):"]
    for c in list_claims():
        profiles = ", ".join(c.profiles)
        lines.append(f"    {c.name}: {c.title} [profiles: {profiles}]")
        for key, setting in c.settings.items():
            lines.append(f"        {key} ({setting.kind}): {setting.help}")
    return "\n".join(lines)


run.__doc__ = (run.__doc__ or "") + _catalogue()
