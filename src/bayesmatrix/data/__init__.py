"""Text available offline: shipped task files, and English prose from the standard library's
own documentation (docstrings), a real corpus present on every Python installation."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError

STDLIB_MODULES = [
    "abc",
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email",
    "enum",
    "fractions",
    "functools",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "math",
    "mimetypes",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "shelve",
    "shutil",
    "smtplib",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "tokenize",
    "traceback",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "weakref",
    "zipfile",
]


def stdlib_docs(max_chars: int | None = None) -> str:
    """Docstrings of a fixed list of standard-library modules and their public members,
    as paragraphs separated by blank lines (deterministic for a given Python version)."""
    parts: list[str] = []
    total = 0
    for name in STDLIB_MODULES:
        module = importlib.import_module(name)
        docs = [inspect.getdoc(module)]
        for attr in sorted(vars(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            docs.append(inspect.getdoc(obj))
        for doc in docs:
            if doc and len(doc) > 80:
                parts.append(doc.strip())
                total += len(doc) + 2
                if max_chars is not None and total >= max_chars:
                    return "\n\n".join(parts)[:max_chars]
    return "\n\n".join(parts)


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


def read_jsonl(path: str | Path, what: str = "file") -> list[tuple[int, object]]:
    """(line number, parsed record) for every non-blank line; errors cite file and line."""
    src = Path(path)
    records = []
    for number, text in enumerate(read_utf8(src, what).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            records.append((number, json.loads(text)))
        except json.JSONDecodeError as exc:
            raise BayesmatrixError(f"{src}, line {number}: not valid JSON ({exc.msg})") from None
    return records
