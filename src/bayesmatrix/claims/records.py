"""The verdict records of a claim's run (results.records): each verdict of its results with
the claim, the rule's id and measured error rates, the model's canonical identity and size,
the profile, settings, seeds and versions."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.claim import Claim, verdicts_of
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.loading import Loader
from bayesmatrix.models.reference import ModelRef
from bayesmatrix.results.rates import rule_calibration
from bayesmatrix.results.records import VerdictRecord, record


def seeds_of(settings: Mapping[str, Any]) -> list[int]:
    """The seeds a run's settings name (first_seed .. first_seed + seeds - 1, or seed)."""
    if "seeds" in settings and "first_seed" in settings:
        first = int(settings["first_seed"])
        return list(range(first, first + int(settings["seeds"])))
    if "seed" in settings:
        return [int(settings["seed"])]
    return []


def claim_records(
    claim: Claim,
    results: Sequence[Any],
    models: Sequence[str],
    load_model: Loader,
    profile: str,
    settings: Mapping[str, Any],
    elapsed: float | None = None,
) -> list[VerdictRecord]:
    """One record per verdict of a claim's results (in order)."""
    names: dict[str, str] = {}
    identity: dict[str, str] = {}
    size: dict[str, int | None] = {}
    for model in models:
        text = str(model)
        identity[text] = load_model.identity(text)
        size[text] = load_model.parameters(text)
        names[text] = text
        with contextlib.suppress(BayesmatrixError):  # a name only a Preloaded loader knows
            names[ModelRef.parse(text).label] = text
    calibrated = {rule.id for rule in claim.calibration}
    out = []
    for verdict in verdicts_of(results):
        subject = verdict.subject
        reference = names.get(subject) or (str(models[0]) if len(models) == 1 else "")
        out.append(
            record(
                verdict,
                claim.name,
                model_id=identity.get(reference, ""),
                parameters=size.get(reference),
                profile=profile,
                settings=settings,
                calibration=rule_calibration(verdict.rule, claim.version)
                if verdict.rule in calibrated
                else {},
                claim_version=claim.version,
                seeds=seeds_of(settings),
                elapsed=elapsed,
            )
        )
    return out
