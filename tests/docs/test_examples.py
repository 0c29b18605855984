"""Every Python example in README and on the site that shows its output (a ```python block
followed by a ```text block) runs here and prints exactly that output, so a stale example
fails CI. Examples without a shown output are run by the notebooks' and API tests instead."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
PAIR = re.compile(r"```python\n(.*?)```\s*```text\n(.*?)```", re.S)


def examples() -> list[tuple[str, str, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for i, (code, shown) in enumerate(PAIR.findall(page.read_text())):
            found.append((f"{page.relative_to(ROOT)}#{i}", code, shown))
    return found


def test_there_are_examples_with_output():
    assert any(name.startswith("README.md") for name, _, _ in examples())


@pytest.mark.parametrize(("name", "code", "shown"), examples(), ids=[e[0] for e in examples()])
def test_the_example_prints_what_the_page_shows(name, code, shown, tmp_path):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = [line.rstrip() for line in proc.stdout.strip("\n").splitlines()]
    assert printed == [line.rstrip() for line in shown.strip("\n").splitlines()]
