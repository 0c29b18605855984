"""Errors a user can fix: raised at the boundary with the fix in the message.

The CLI turns any `BayesmatrixError` into one readable line and exit code 2. It subclasses
ValueError so callers that catch ValueError for bad input keep working.
"""

from __future__ import annotations


class BayesmatrixError(ValueError):
    """Bad input or a missing resource; the message says what to do."""


class ModelNotFoundError(BayesmatrixError):
    """A model name, path or hub id that cannot be loaded here."""


class CapabilityError(BayesmatrixError):
    """What a claim needs that the model's backend cannot give (e.g. hidden states over HTTP)."""
