"""The claims bayesmatrix tests, each one module that declares it whole (see claims.claim),
found automatically (see claims.registry): `list_claims()`, `get_claim(name)`, and
`run_claim(...)` to compute one."""

from bayesmatrix.claims.claim import Claim, ClaimFigure, Context, Setting, verdicts_of
from bayesmatrix.claims.registry import get_claim, list_claims, register, run_claim

__all__ = [
    "Claim",
    "ClaimFigure",
    "Context",
    "Setting",
    "get_claim",
    "list_claims",
    "register",
    "run_claim",
    "verdicts_of",
]
