"""Results made of tidy frames: one Parquet file per frame, arrays in one .npz, every other
field in meta.json; each frame's declared columns are checked when a result is read back.

A result class is a dataclass deriving from `FrameResult` with a `SCHEMA`: for each frame
field, the columns it must have and their kinds ('f' float, 'i' integer, 'b' bool, 'O' text,
lists or arrays). `load` refuses a folder whose files lack a declared column, or whose
columns are of another kind, or that another class wrote (DamagedResultError, naming the
file), so a damaged or foreign result is never read as if it were this one. Fields marked
`field(metadata={"saved": False})` are not written (a class that needs them saves them
itself, by extending save/load).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.io import (
    DamagedResultError,
    read_json,
    read_parquet,
    write_bytes,
    write_json,
    write_parquet,
)

META = "meta.json"
ARRAYS = "arrays.npz"
# a frame's declared columns and their kinds ('f', 'i', 'b', 'O'), per frame field
Schema = dict[str, dict[str, str]]
# which dtype kinds satisfy a declared kind (pandas reads integers with missing values as
# floats, and text as objects)
_ACCEPTS = {"f": "fiu", "i": "iu", "b": "b", "O": "OSUb"}


def _is(annotation: Any, name: str) -> bool:
    return name in str(annotation)


@dataclasses.dataclass
class FrameResult:
    """Base of results saved as frames + arrays + meta (see the module docstring)."""

    SCHEMA: ClassVar[Schema] = {}

    def save(self, directory: str | Path) -> Path:
        """Write every saved field: frames as `<name>.parquet`, arrays into arrays.npz, the
        rest (and the class's name) into meta.json, each file whole."""
        out = Path(directory)
        meta: dict[str, Any] = {"kind": type(self).__name__}
        arrays: dict[str, np.ndarray] = {}
        for f in _saved_fields(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, pd.DataFrame):
                write_parquet(value, out / f"{f.name}.parquet")
            elif isinstance(value, np.ndarray):
                arrays[f.name] = value
            elif not (value is None and (_is(f.type, "DataFrame") or _is(f.type, "ndarray"))):
                meta[f.name] = value
        if arrays:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy stubs: **kwds as bool
            write_bytes(out / ARRAYS, buffer.getvalue())
        write_json(out / META, meta)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a result written by save, checking its kind and every frame's schema."""
        src = Path(directory)
        if not (src / META).is_file():
            raise BayesmatrixError(f"{src} holds no saved result ({META} missing)")
        meta = read_json(src / META)
        if not isinstance(meta, dict) or meta.get("kind") != cls.__name__:
            found = meta.get("kind") if isinstance(meta, dict) else None
            raise DamagedResultError(
                f"{src / META} holds a {found or 'foreign'} result, not a {cls.__name__}"
            )
        values: dict[str, Any] = {}
        arrays = _read_arrays(src / ARRAYS)
        for f in _saved_fields(cls):
            path = src / f"{f.name}.parquet"
            if _is(f.type, "DataFrame") and (path.is_file() or f.name in cls.SCHEMA):
                values[f.name] = check_schema(read_parquet(path), cls.SCHEMA.get(f.name), path)
            elif _is(f.type, "ndarray"):
                values[f.name] = arrays.get(f.name)
            elif f.name in meta:
                values[f.name] = meta[f.name]
        return cls(**values, **cls._load_extra(src))

    @classmethod
    def _load_extra(cls, src: Path) -> dict[str, Any]:
        """Values of fields that are not saved by FrameResult (a subclass that saves them
        itself, in save, reads them here)."""
        return {}


def check_schema(frame: pd.DataFrame, schema: dict[str, str] | None, path: Path) -> pd.DataFrame:
    """The frame, when it has every declared column with a compatible kind; else
    DamagedResultError naming the file and what is missing."""
    for column, kind in (schema or {}).items():
        if column not in frame.columns:
            raise DamagedResultError(f"{path} is damaged: column {column!r} is missing")
        if frame[column].dtype.kind not in _ACCEPTS[kind] and len(frame):
            raise DamagedResultError(
                f"{path} is damaged: column {column!r} holds {frame[column].dtype}, not "
                f"{ {'f': 'floats', 'i': 'integers', 'b': 'booleans', 'O': 'text'}[kind] }"
            )
    return frame


def _saved_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("saved", True)]


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path) as arrays:
            return {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DamagedResultError(f"{path} is damaged ({type(exc).__name__})") from None


@dataclasses.dataclass
class ModelFrame(FrameResult):
    """A result that is one model's tidy frame."""

    model: str
    frame: pd.DataFrame


def save_frame(directory: str | Path, frame: pd.DataFrame, meta: dict) -> Path:
    """Write frame.parquet and meta.json into directory (created), each file whole (results
    that are not FrameResults: the matrix's comparison, the ICL analysis' parts)."""
    out = Path(directory)
    write_parquet(frame, out / "frame.parquet")
    write_json(out / META, meta)
    return out


def load_frame(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    """frame.parquet and meta.json of a folder written by save_frame; a damaged file is named
    (DamagedResultError)."""
    src = Path(directory)
    if not (src / "frame.parquet").is_file() or not (src / META).is_file():
        raise BayesmatrixError(f"{src} holds no saved result (frame.parquet/{META} missing)")
    return read_parquet(src / "frame.parquet"), read_json(src / META)
