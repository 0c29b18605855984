"""Resumable units of work: one Parquet file per finished unit, so a killed run redoes nothing
it finished.

A unit (a `Cell`) names where its result lives (path parts under the folder, each made safe
with `safe_name`) and the job that computes it. `Cells.map` reads the finished ones and runs
the missing ones as jobs of an executor (here, one after another, by default); each result is
written whole by the driver as it arrives, whichever executor ran it. A file that cannot be
read back is named (DamagedResultError), or with `force` computed again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesmatrix.results.io import DamagedResultError, read_parquet, write_parquet
from bayesmatrix.results.outdir import safe_name

if TYPE_CHECKING:
    import pandas as pd

    from bayesmatrix.executor import Executor, Resources


@dataclass(frozen=True)
class Cell:
    """One unit: its key (path parts, the last the file's stem), a label for progress, and
    fn(*args) -> DataFrame computing it."""

    key: tuple[str, ...]
    label: str
    fn: Callable[..., pd.DataFrame]
    args: tuple = ()
    resources: Resources | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Cells:
    """The finished and missing units under `folder` (see the module docstring)."""

    folder: Path
    force: bool = False

    def path(self, key: Sequence[str]) -> Path:
        """Where a unit's frame lives: safe path components, `.parquet` on the last."""
        *dirs, stem = (safe_name(str(part)) for part in key)
        return Path(self.folder).joinpath(*dirs, f"{stem}.parquet")

    def read(self, key: Sequence[str]) -> pd.DataFrame:
        """A finished unit's frame; a damaged file is named with the way out."""
        path = self.path(key)
        try:
            return read_parquet(path)
        except DamagedResultError as exc:
            raise DamagedResultError(f"{exc}; rerun with --force to compute it again") from None

    def finished(self, key: Sequence[str]) -> bool:
        """Whether the unit's file exists (with `force`, also that it reads back; a damaged
        one is then removed so that it is computed again)."""
        path = self.path(key)
        if not path.is_file():
            return False
        if self.force:
            try:
                import pyarrow.parquet as pq

                pq.read_metadata(path)
            except Exception:  # pyarrow raises several types for a damaged file
                path.unlink()
                return False
        return True

    def map(
        self,
        cells: Sequence[Cell],
        executor: Executor | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> list[pd.DataFrame]:
        """Every cell's frame, in order: finished ones read, missing ones computed as jobs of
        `executor` and written as each arrives."""
        from bayesmatrix.executor import Job, LocalExecutor, Resources

        executor = executor or LocalExecutor()
        jobs, computed = [], {}
        for cell in cells:
            if self.finished(cell.key):
                if progress:
                    progress(f"{cell.label} (done)")
                continue
            resources = cell.resources or Resources()
            jobs.append(Job(cell.label, _unit, (cell.fn, cell.args), resources))
        by_label = {cell.label: cell for cell in cells}

        def save(job: Job, frame: Any) -> None:
            cell = by_label[job.key]
            write_parquet(frame, self.path(cell.key))
            computed[cell.key] = frame

        executor.run(jobs, save, progress)
        return [computed[c.key] if c.key in computed else self.read(c.key) for c in cells]


def _unit(fn: Callable[..., Any], args: tuple) -> Any:
    """A cell as a job (a module-level function, so that Ray can ship it)."""
    return fn(*args)
