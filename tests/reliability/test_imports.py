"""Every `from bayesmatrix... import name` in the package, the tests and the benchmarks
resolves, including the imports deferred into functions (a module moved in a refactor left
two such imports pointing at its old name; only the code path that ran them found out)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    p for folder in ("src", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")
)


def imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every absolute bayesmatrix import in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "bayesmatrix":
                out += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name, None) for a in node.names if a.name.startswith("bayesmatrix")
            ]
    return out


def test_the_scan_sees_deferred_imports():
    found = imports(ROOT / "src" / "bayesmatrix" / "experiments" / "entropy.py")
    assert any(module == "bayesmatrix.data.qa" and name == "qa_prompt" for _, module, name in found)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bayesmatrix_import_resolves(path):
    broken = []
    for line, module, name in imports(path):
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            broken.append(f"line {line}: {module} ({exc})")
            continue
        if name is not None and name != "*" and not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                broken.append(f"line {line}: {module} has no {name}")
    assert broken == []


def test_dir_lists_the_public_api_and_nothing_else():
    import bayesmatrix

    listed = dir(bayesmatrix)
    assert listed == sorted(bayesmatrix.__all__)
    assert {"load", "run", "atlas", "read_verdicts"} <= set(listed)
    assert not {"TYPE_CHECKING", "annotations", "warnings"} & set(listed)
    public = [name for name in listed if not name.startswith("__")]  # __version__ aside
    assert all(callable(getattr(bayesmatrix, n)) or n.isupper() for n in public)
