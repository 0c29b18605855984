"""Saved results that know what they were computed from.

A result directory is *finished* when it holds `done.json`, written atomically and last (after
every part it vouches for). The marker records the result's inputs (model identity, file
contents, settings, the computation's version) and their fingerprint, the digest of every
file the result saved, and the toolkit version that wrote it (for the reader: not an input),
so a rerun reuses a folder only for exactly the same inputs and files, recomputes an
unfinished one, and refuses one that holds results of other inputs, or a file changed since
(edited by hand, restored from elsewhere), unless told to replace them. This module imports
neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.io import DamagedResultError, write_bytes

MARKER = "done.json"


def _version() -> str:
    from bayesmatrix._version import __version__

    return __version__


def _canonical(inputs: Mapping[str, Any]) -> str:
    return json.dumps(inputs, sort_keys=True, default=str, separators=(",", ":"))


def text_digest(text: str | bytes) -> str:
    """sha256 (first 16 hex digits) of a text or of bytes."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def digest(obj: Any) -> str:
    """A hash of a JSON-like object; dataclasses are hashed by their fields, except those
    marked `field(metadata={"digest": False})` (e.g. the path a task file was read from)."""
    import dataclasses

    def plain(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {
                f.name: getattr(o, f.name)
                for f in dataclasses.fields(o)
                if f.metadata.get("digest", True)
            }
        return str(o)

    return text_digest(json.dumps(obj, sort_keys=True, default=plain, ensure_ascii=False))


def file_digest(path: str | Path) -> str:
    """sha256 (first 16 hex digits) of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:16]


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """A stable hash of a result's inputs. The toolkit's version is not one of them: a
    computation that changes says so in its own inputs (a claim's `version`, a cell's), so a
    release does not throw away every saved result."""
    return text_digest(_canonical(inputs))


class StaleResultError(BayesmatrixError):
    """A result folder holds results computed from other inputs."""


class ChangedResultError(StaleResultError):
    """A file of a finished result was changed after it was saved."""


def read_marker(directory: str | Path) -> dict | None:
    """The marker of a finished result, or None when the folder is missing or unfinished
    (no marker, or a marker a kill left empty or half-written)."""
    path = Path(directory) / MARKER
    try:
        marker = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return marker if isinstance(marker, dict) and "fingerprint" in marker else None


def is_saved(directory: str | Path, inputs: Mapping[str, Any], force: bool = False) -> bool:
    """True when `directory` holds a finished result of exactly these inputs.

    A finished result of other inputs raises StaleResultError naming what differs, unless
    `force` (then it is unmarked and False is returned, so the caller recomputes)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BayesmatrixError(
            f"{directory} is a file; results need a directory, pass another --out"
        )
    marker = read_marker(directory)
    if marker is None:
        return False
    if marker["fingerprint"] == fingerprint(inputs):
        changed = changed_files(directory, marker)
        if not changed:
            return True
        if force:
            (directory / MARKER).unlink(missing_ok=True)
            return False
        raise ChangedResultError(
            f"{directory / changed[0]} was changed after it was saved (its content differs "
            "from the digest in done.json); pass --force to recompute the result, or restore "
            "the file"
        )
    if force:
        (directory / MARKER).unlink(missing_ok=True)
        return False
    raise StaleResultError(
        f"{directory} holds results of other inputs ({describe_difference(marker, inputs)}); "
        "pass --force to recompute them, or choose another --out"
    )


def changed_files(directory: Path, marker: Mapping[str, Any]) -> list[str]:
    """The files a marker vouches for that are missing or differ from their digest."""
    changed = []
    for name, want in (marker.get("files") or {}).items():
        path = directory / name
        try:
            if file_digest(path) != want:
                changed.append(name)
        except OSError:
            changed.append(name)
    return changed


def files_state(directory: Path) -> dict[str, tuple[int, int, int]]:
    """{path relative to directory: (inode, size, modification time)} of the files under it
    (a file written whole is renamed into place: a new inode, whatever the clock says)."""
    if not directory.is_dir():
        return {}
    state = {}
    for p in directory.rglob("*"):
        if p.is_file() and p.name != MARKER:
            st = p.stat()
            state[str(p.relative_to(directory))] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return state


def describe_difference(marker: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
    """Which inputs differ between a saved marker and new inputs, in a few words."""
    old = _flat(marker.get("inputs", {}))
    new = _flat(json.loads(_canonical(inputs)))
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if not keys:
        return "saved by another layout"
    shown = []
    for k in keys[:4]:
        a, b = _short(old.get(k)), _short(new.get(k))
        shown.append(f"{k}: {a} -> {b}")
    more = f", and {len(keys) - 4} more" if len(keys) > 4 else ""
    return "; ".join(shown) + more


def _flat(inputs: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys ({"settings": {"n": 1}} -> {"settings.n": 1})."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, Mapping) and value:
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def mark_saved(directory: str | Path, inputs: Mapping[str, Any], files: Sequence[str] = ()) -> Path:
    """Write the marker atomically, with the digest of each of `files` (paths relative to
    the directory: what the result saved); call it only after every part is written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    marker = {
        "fingerprint": fingerprint(inputs),
        "version": _version(),
        "inputs": json.loads(_canonical(inputs)),
        "files": {name: file_digest(directory / name) for name in sorted(files)},
    }
    write_bytes(directory / MARKER, json.dumps(marker, indent=1).encode())
    return directory / MARKER


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:160]}" if text else type(exc).__name__


def cached(
    directory: str | Path,
    inputs: Mapping[str, Any],
    load: Any,
    compute: Any,
    force: bool = False,
) -> Any:
    """load(directory) when it holds a finished result of these inputs; otherwise
    compute(), save it there, and mark it finished (parts first, marker last).
    A finished result that cannot be read back (a file truncated or written over since) is
    named, or with `force` computed again. A file the result saved that was changed since is
    named too (ChangedResultError), or with `force` computed again."""
    if is_saved(directory, inputs, force):
        try:
            return load(directory)
        except Exception as exc:  # parquet, json and numpy readers raise many types
            if not force:
                raise DamagedResultError(
                    f"the saved result in {directory} cannot be read ({_first_line(exc)}); "
                    "rerun with --force to compute it again"
                ) from None
            (Path(directory) / MARKER).unlink(missing_ok=True)
    result = compute()
    before = files_state(Path(directory))
    result.save(directory)
    after = files_state(Path(directory))
    saved = [name for name, stamp in after.items() if before.get(name) != stamp]
    mark_saved(directory, inputs, saved)
    return result
