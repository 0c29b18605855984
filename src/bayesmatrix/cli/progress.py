"""Progress that reaches the user whether or not stderr is a terminal.

On a terminal: a transient rich bar (with a count and time left) or a spinner. Otherwise (a
batch job, a CI log, output redirected to a file): plain lines on stderr, the first at once
and then at most one every `PLAIN_EVERY` seconds, so a long run shows it is alive without
flooding the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bayesmatrix.cli import err

PLAIN_EVERY = 30.0  # seconds between plain progress lines


class _Plain:
    """Rate-limited progress lines for a log (see the module docstring)."""

    def __init__(self, title: str, total: int | None, every: float) -> None:
        self.title, self.total, self.every = title, total, every
        self.done, self.start, self.last = 0, time.monotonic(), float("-inf")

    def __call__(self, label: str) -> None:
        counting = self.total is not None and self.done < self.total
        self.done += counting
        now = time.monotonic()
        if now - self.last < self.every and not (counting and self.done == self.total):
            return
        self.last = now
        count = self._count(now) if counting else f" ({now - self.start:.0f} s)"
        err.print(f"{self.title}: {label}{count}", markup=False, highlight=False, soft_wrap=True)

    def _count(self, now: float) -> str:
        assert self.total
        left = (now - self.start) / self.done * (self.total - self.done) if self.done else 0
        eta = f", ~{left / 60:.0f} min left" if self.done and left >= 60 else ""
        return f" [{self.done}/{self.total}, {100 * self.done / self.total:.0f}%{eta}]"


def expected(claim: str, profile: str) -> str:
    """What a run is, for its first progress line: the profile and the time the claim took
    there on the project's machine (data/claim_times.json, benchmarks/claim_times.py)."""
    from bayesmatrix.results.times import claim_seconds

    seconds = claim_seconds(claim, profile)
    if seconds is None:
        return f"{profile} profile"
    took = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    return f"{profile} profile, about {took} per model on 2 CPU cores (the default model)"


@contextmanager
def progress(
    title: str, total: int | None = None, note: str = "", every: float = PLAIN_EVERY
) -> Iterator[Callable[[str], None]]:
    """A callback for library progress: with `total`, each of the first `total` calls is one
    unit done (its label names it); without (and after those), each call names what is
    being done now. `note` is said in the first line, at the first call: after the library
    has checked its inputs, so a refused input is the only line a user sees."""
    said = [not note]

    def first(update: Callable[[str], None]) -> Callable[[str], None]:
        def call(label: str) -> None:
            if not said[0]:
                said[0] = True
                err.print(f"{title}: {note}", markup=False, highlight=False, soft_wrap=True)
            update(label)

        return call

    if not err.is_terminal:
        yield first(_Plain(title, total, every))
        return
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(title, total=total)
        step = 1 if total is not None else 0
        yield first(lambda label: bar.update(task, advance=step, description=f"{title}: {label}"))
