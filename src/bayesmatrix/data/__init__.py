"""Text available offline: shipped task files, and English prose from the standard library's
own documentation (docstrings), a real corpus present on every Python installation."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError

# the ICL task format without an instruction (bayesmatrix 0.3.0's; a task file's default
# template): its label words carry almost none of a model's mass before any demonstration
PLAIN_TEMPLATE = "Input: {input}\nOutput: {label}"


@functools.lru_cache(maxsize=8)
def stdlib_docs(max_chars: int | None = None) -> str:
    """Docstrings of a fixed list of standard-library modules and their public members,
    as paragraphs separated by blank lines. Collected in a fresh interpreter (isolated, no
    site-packages), so the text depends on the Python version only, never on what this
    process has imported or patched."""
    script = Path(__file__).with_name("stdlib_text.py")
    limit = "all" if max_chars is None else str(max_chars)
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script), limit], capture_output=True, check=False
    )
    if done.returncode:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise BayesmatrixError(f"collecting the standard library's docstrings failed: {tail}")
    return done.stdout.decode("utf-8")


def read_utf8(path: str | Path, what: str = "file") -> str:
    """A file's text, or a clear error when it is missing or not UTF-8."""
    src = Path(path)
    try:
        return src.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BayesmatrixError(f"{what} not found: {src}") from None
    except IsADirectoryError:
        raise BayesmatrixError(f"{what} {src} is a directory; pass a file") from None
    except OSError as exc:
        raise BayesmatrixError(f"cannot read {what} {src}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BayesmatrixError(
            f"{src} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {src} > fixed.txt`"
        ) from None


MAX_JSON_DEPTH = 64  # nesting a record may have: deeper is a mistake or an attack


def read_jsonl(path: str | Path, what: str = "file") -> list[tuple[int, object]]:
    """(line number, parsed record) for every non-blank line; errors cite file and line.
    Lines end at newlines only: U+2028, U+0085 and the like are legal inside JSON strings."""
    src = Path(path)
    records = []
    for number, text in enumerate(read_utf8(src, what).split("\n"), start=1):
        if not text.strip():
            continue
        too_deep = BayesmatrixError(
            f"{src}, line {number}: nested deeper than {MAX_JSON_DEPTH} levels; a record is one "
            "flat object"
        )
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BayesmatrixError(f"{src}, line {number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise too_deep from None
        if _depth(record) > MAX_JSON_DEPTH:
            raise too_deep
        records.append((number, record))
    return records


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), counted level by level."""
    deepest, level = 0, [value]
    while containers := [v for v in level if isinstance(v, dict | list)]:
        deepest += 1
        level = [c for v in containers for c in (v.values() if isinstance(v, dict) else v)]
    return deepest
