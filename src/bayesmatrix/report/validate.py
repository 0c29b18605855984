"""`bayesmatrix validate`: every registered claim, on one or more models.

Each (claim, model) result is written to disk as soon as it is finished and reloaded on a rerun
(only for exactly the same inputs), so a killed validation resumes without redoing finished
work. Returns one section per claim with its verdicts, figures and the command that reproduces
each figure; this module only assembles sections: what a claim is lives in bayesmatrix.claims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayesmatrix.claims import list_claims, run_claim, verdicts_of
from bayesmatrix.claims.registry import PROFILE_NAMES
from bayesmatrix.errors import BayesmatrixError, CapabilityError
from bayesmatrix.experiments.verdicts import Verdict
from bayesmatrix.models.paths import model_identity

PROFILES = PROFILE_NAMES


@dataclass
class ClaimSection:
    """One claim in the report."""

    title: str
    verdicts: list[Verdict] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, reproducing command)
    note: str = ""
    rule: str = ""


def profile_settings(profile: str) -> dict[str, dict[str, Any]]:
    """Each claim's settings in a profile (claims without that profile are left out)."""
    if profile not in PROFILES:
        raise BayesmatrixError(f"unknown profile '{profile}'; choose from {', '.join(PROFILES)}")
    return {c.name: dict(c.profiles[profile]) for c in list_claims() if profile in c.profiles}


def run_validation(
    models: Sequence[str],
    profile: str,
    out: str | Path,
    load_model: Callable[[str], Any],
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
) -> list[ClaimSection]:
    """Run every registered claim of the profile on every model (resumably) and return the
    report's sections. A result is reused only when it was saved from exactly the same inputs
    (see bayesmatrix.store); results of other inputs are refused unless `force`."""
    from bayesmatrix.viz import save_figure

    if not models:
        raise BayesmatrixError("pass at least one --model")
    settings = profile_settings(profile)
    out = Path(out) / profile  # results of different profiles never mix
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in cache:
            cache.clear()  # one model in memory at a time
            cache[name] = load_model(name)
        return cache[name]

    load.identity = getattr(load_model, "identity", model_identity)  # type: ignore[attr-defined]

    sections = []
    for claim in list_claims():
        if claim.name not in settings:
            continue
        s = settings[claim.name]
        where = out / claim.name
        progress(claim.name)
        try:
            results = run_claim(claim, models, s, where, load, progress, force)
        except CapabilityError as exc:  # e.g. hidden states from a vLLM server
            note = f"Not available on this backend: {exc}"
            sections.append(ClaimSection(claim.title, note=note, rule=claim.rule))
            continue
        figures = [
            (save_figure(f.figure, where / f"{f.stem}.png"), f.command)
            for f in claim.figures(results, models, s)
        ]
        sections.append(
            ClaimSection(
                claim.title, verdicts_of(results), figures, claim.note(results), claim.rule
            )
        )
    return sections
