"""The claims of the paper as one protocol, and the registry the interfaces loop over."""

from bayesmatrix.claims.registry import (
    Claim,
    ClaimFigure,
    Context,
    get_claim,
    list_claims,
    register,
    run_claim,
    verdicts_of,
)

__all__ = [
    "Claim",
    "ClaimFigure",
    "Context",
    "get_claim",
    "list_claims",
    "register",
    "run_claim",
    "verdicts_of",
]
