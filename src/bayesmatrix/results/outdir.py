"""Output folders a run may write into, and names that are safe to make into paths.

- `safe_name`: any text that comes from a file or an option (a task's name, a model
  reference) becomes one path component that cannot climb out of its folder.
- `claim_output_dir`: an `--out` folder is new, empty, or one bayesmatrix made (it carries
  the marker file `.bayesmatrix`); a folder of the user's with other files is refused, so
  their `summary.json` or `trace.png` is never overwritten; a folder inside it that is a
  symbolic link is refused, so nothing is written outside `--out`. Every front door that
  writes results calls it (claims.registry.run_claim, validation, the CLI). The run then
  holds an exclusive lock on the folder (`.bayesmatrix.lock`, released when the process
  ends, even by kill -9): a second run on the same folder refuses at once with one line
  naming the holder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError

MARKER = ".bayesmatrix"
LOCK = ".bayesmatrix.lock"
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+=-]{0,79}")
_HELD: dict[Path, int] = {}  # folder -> open descriptor of its lock, for this process


def safe_name(text: str) -> str:
    """`text` as one path component: unchanged when it is plain (letters, digits, `._+=-`,
    not starting with a dot, at most 80 characters), else its plain characters (at most 40)
    and a hash of the whole text, so different texts never share a folder."""
    if _SAFE.fullmatch(text):
        return text
    plain = re.sub(r"[^A-Za-z0-9._+=-]+", "_", text).lstrip(".")[:40] or "_"
    return f"{plain}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def check_writable_dir(out: Path, option: str = "--out") -> None:
    """Refuse a folder path that lies at or below an existing file."""
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BayesmatrixError(
            f"{option} {out}: {existing} is a file; results are written into a directory: pass "
            "a directory path"
        )


def claim_output_dir(out: str | Path, option: str = "--out") -> Path:
    """Make `out` this run's output folder (see the module docstring) and return it."""
    out = Path(out)
    check_writable_dir(out, option)
    if out.is_dir() and not (out / MARKER).is_file():
        others = sorted(p.name for p in out.iterdir())
        if others:
            shown = ", ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            raise BayesmatrixError(
                f"{option} {out} holds files bayesmatrix did not write ({shown}); it never writes "
                "into a folder of yours: pass a new or empty folder (or one an earlier run made)"
            )
    linked = next(_linked_folders(out), None) if out.is_dir() else None
    if linked is not None:
        raise BayesmatrixError(
            f"{option} {out} holds {linked}, a link to a folder elsewhere "
            f"({os.path.realpath(linked)}); results are written only inside {option}: remove "
            "the link or pass another folder"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            from bayesmatrix.results.io import write_json

            write_json(out / MARKER, {"tool": "bayesmatrix", "created": _now()})
    except OSError as exc:
        raise BayesmatrixError(unwritable(out, exc, option)) from None
    lock(out / LOCK, out, option)
    return out


def _linked_folders(out: Path) -> Iterator[Path]:
    """Symbolic links to folders anywhere under `out` (not followed)."""
    for root, dirs, _ in os.walk(out):
        for name in dirs:
            path = Path(root) / name
            if path.is_symlink():
                yield path


def lock(path: Path, owner: Path, option: str = "--out") -> None:
    """Hold an exclusive lock on `path` until this process ends; a second holder (another
    process) is refused with one line naming the first. Re-entrant within a process."""
    owner = owner.resolve()
    if owner in _HELD:
        return
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: ownership checks only
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BayesmatrixError(unwritable(path.parent, exc, option)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 4096).decode("utf-8", "replace")
        os.close(fd)
        raise BayesmatrixError(
            f"{option} {owner} is in use by another bayesmatrix run ({_describe(holder)}); "
            "wait for it to finish, or pass another folder"
        ) from None
    os.ftruncate(fd, 0)
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
    info = {"pid": os.getpid(), "command": command[:200], "since": _now()}
    os.write(fd, json.dumps(info).encode("utf-8", "replace"))
    _HELD[owner] = fd


def held() -> list[Path]:
    """The folders whose lock this process holds."""
    return list(_HELD)


def release(out: str | Path) -> None:
    """Give up this process's lock on `out` (normally held until the process ends)."""
    fd = _HELD.pop(Path(out).resolve(), None)
    if fd is not None:
        os.close(fd)


@contextmanager
def locks_released() -> Iterator[None]:
    """Give up, on leaving, the locks taken inside: a job in a worker process that outlives
    it (Ray's) must not keep its folders from the driver and the next jobs."""
    before = set(_HELD)
    try:
        yield
    finally:
        for owner in set(_HELD) - before:
            release(owner)


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']}, `{info['command']}`, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def unwritable(where: Path, exc: OSError, option: str = "--out") -> str:
    """One line for a folder that cannot be written (read-only, full, no permission)."""
    reason = exc.strerror or type(exc).__name__
    return f"cannot write to {option} {where}: {reason}; pass a folder on a writable disk with room"
