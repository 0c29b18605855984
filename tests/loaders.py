"""A loader that counts its loads: what a sweep or a nested executor loads, and how often."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bayesmatrix.executor import Resources
from bayesmatrix.models.loading import Loader


@dataclass(frozen=True)
class Counting(Loader):
    """Gives make() for any name and appends the name to `loads` at each load; kept (as a
    sweep keeps it) it loads once per process."""

    make: Callable[[], Any] = field(default=object, repr=False)
    loads: list = field(default_factory=list, compare=False, repr=False)
    tag: str = "model"

    def __call__(self, name):
        if self.keep:
            return super().__call__(name)
        self.loads.append(name)
        return self.make()

    def identity(self, name):
        return f"{self.tag}:{name}"

    def resources(self, name):
        return Resources()
