"""What every experiment returns: a tidy frame, metadata, and a verdict that can go either way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.verdicts import Status, Verdict
from bayesmatrix.results.io import read_json, read_parquet, write_json, write_parquet

__all__ = [
    "ModelFrame",
    "Status",
    "Verdict",
    "bootstrap_mean_ci",
    "load_frame",
    "save_frame",
    "write_parquet_atomic",
]


def save_frame(directory: str | Path, frame: pd.DataFrame, meta: dict) -> Path:
    """Write frame.parquet and meta.json into directory (created), each file whole."""
    out = Path(directory)
    write_parquet(frame, out / "frame.parquet")
    write_json(out / "meta.json", meta)
    return out


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame to Parquet whole (see bayesmatrix.results.io)."""
    write_parquet(frame, path)


def load_frame(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    """frame.parquet and meta.json of a folder written by save_frame; a damaged file is named
    (DamagedResultError)."""
    src = Path(directory)
    if not (src / "frame.parquet").is_file() or not (src / "meta.json").is_file():
        raise BayesmatrixError(f"{src} holds no saved result (frame.parquet/meta.json missing)")
    return read_parquet(src / "frame.parquet"), read_json(src / "meta.json")


@dataclass
class ModelFrame:
    """A result that is one model's tidy frame; saved and reloaded as frame + {"model"}."""

    model: str
    frame: pd.DataFrame

    def save(self, directory: str | Path) -> Path:
        return save_frame(directory, self.frame, {"model": self.model})

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        frame, meta = load_frame(directory)
        return cls(meta["model"], frame)


# bootstrap resamples any option may ask for: beyond this the interval's Monte Carlo error is
# far below its width, and the work grows without bound (each resample refits or re-scores)
MAX_BOOTSTRAP = 10_000


def check_bootstrap(n: int, seconds_each: float, option: str = "--bootstrap") -> int:
    """Refuse a resample count below 0 or above MAX_BOOTSTRAP, saying what it would cost."""
    if n < 0 or n > MAX_BOOTSTRAP:
        hours = n * seconds_each / 3600
        cost = f" (about {hours:,.0f} hours here)" if hours >= 1 else ""
        raise BayesmatrixError(
            f"{option} must be between 0 and {MAX_BOOTSTRAP:,}, not {n:,}{cost}; 1,000 resamples "
            "give intervals whose Monte Carlo error is far below their width"
        )
    return n


def bootstrap_mean_ci(
    values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of values and a percentile bootstrap interval over them; the interval is NaN when
    it cannot be computed (fewer than 2 values or no resamples), never a zero-width one."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2 or n_boot < 1:
        return float(v.mean()) if len(v) else float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(len(v), size=(n_boot, len(v)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return (
        float(v.mean()),
        float(np.percentile(means, tail)),
        float(np.percentile(means, 100 - tail)),
    )


def log_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y on log x (the exponent of a power law y ~ x^slope)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
