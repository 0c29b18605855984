"""The one way results reach the disk: whole files renamed into place, and reads that name a
damaged file instead of failing deep inside a parser.

Every writer goes through `write_bytes`: the bytes go to a temporary sibling that is renamed
over the target, so a reader (or a run killed midway) sees the old file or the whole new
one, never a part; the file gets the permissions the user's umask gives a new file (not the
0600 of a temporary file), so colleagues on a shared machine can read a report. A damaged
file (truncated, overwritten, not what its name says) is
reported as DamagedResultError naming the file, so a caller can recompute it (`--force`)."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    import pandas as pd


def _umask() -> int:
    """The process's umask (read once, at import, when no other thread creates files)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


class DamagedResultError(BayesmatrixError):
    """A saved file that cannot be read back (truncated, overwritten or of another format)."""


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes to a temporary sibling and rename it into place. An OSError names `path`
    (not the temporary file), so the one-line error says which file could not be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """A UTF-8 text file, written whole (see write_bytes)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    """A JSON file (indented, numpy scalars and arrays as plain numbers), written whole."""
    return write_text(path, json.dumps(obj, indent=1, default=_json_default))


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """A frame as Parquet (no index), written whole."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return write_bytes(path, buffer.getvalue())


def read_parquet(path: str | Path) -> pd.DataFrame:
    """A Parquet file, or DamagedResultError naming it when it is unreadable."""
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DamagedResultError(_damaged(path, exc)) from None


def read_json(path: str | Path) -> Any:
    """A JSON file, or DamagedResultError naming it when it is unreadable."""
    try:
        return json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise
    except (ValueError, RecursionError) as exc:
        raise DamagedResultError(_damaged(path, exc)) from None


def _damaged(path: str | Path, exc: BaseException) -> str:
    """'<path> is damaged (<type>: <reason>)', the reason left out when it repeats the path."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    why = "" if not first or Path(path).name in first or len(first) > 120 else f": {first}"
    return f"{path} is damaged ({type(exc).__name__}{why})"


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
