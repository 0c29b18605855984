"""Text available offline: shipped task files, and English prose from the standard library's
own documentation (docstrings), a real corpus present on every Python installation."""

from __future__ import annotations

import importlib
import inspect

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
