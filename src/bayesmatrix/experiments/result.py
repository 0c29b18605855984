"""What every experiment returns: a tidy frame, metadata, and a verdict that can go either way."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.verdicts import Status, Verdict

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
    """Write frame.parquet and meta.json into directory (created)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "frame.parquet", index=False)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
    return out


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame to Parquet through a temporary sibling renamed into place, so a run
    killed midway leaves the old file or the whole new one (resumable work units)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_frame(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    src = Path(directory)
    if not (src / "frame.parquet").is_file() or not (src / "meta.json").is_file():
        raise BayesmatrixError(f"{src} holds no saved result (frame.parquet/meta.json missing)")
    return pd.read_parquet(src / "frame.parquet"), json.loads((src / "meta.json").read_text())


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


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
