"""How long each claim takes per profile on the project's machine (data/claim_times.json,
written by benchmarks/claim_times.py): what the first progress line and the docs quote."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files


@cache
def claim_times() -> dict[str, dict[str, float]]:
    """{claim: {profile: seconds}} as measured (empty when not measured)."""
    path = files("bayesmatrix.data").joinpath("claim_times.json")
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("seconds", {})


def claim_seconds(claim: str, profile: str) -> float | None:
    """The measured seconds of a claim at a profile on the default model (None: unknown)."""
    return claim_times().get(claim, {}).get(profile)
