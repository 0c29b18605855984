"""Every code example in README and on the site runs here, page by page in a fresh folder, and
prints what the page shows, so a stale example fails CI:

- ```python with `>>>` lines is a doctest (numbers to the precision shown);
- ```python followed by ```text prints exactly that text; plain ```python must run;
- ```console: each `$ command` runs in a shell and prints the lines below it (a line `...`
  stands for any lines, `...` inside a line for any text);
- ```bash: each command must succeed.

A page's blocks share one folder and one Python namespace, in page order. An HTML comment just
before a block says how else it is treated: `<!-- file: NAME -->` writes the block to NAME,
`<!-- tested: PATH -->` names the test that runs it, and `<!-- skip: REASON -->` says why it
cannot run here (slow ones say how long they take). Every runnable block must run or say which
of these applies."""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
FENCE = re.compile(
    r"(?:<!-- (?P<mark>file|tested|skip): (?P<note>[^>]+?) -->\n)?"
    r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\n",
    re.S | re.M,
)
RUNNABLE = {"python", "console", "bash"}
BIN = str(Path(sys.executable).parent)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    mark: str | None
    note: str | None
    shown: str | None = None  # the ```text block after a plain python block


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found: list[Block] = []
    last = 0
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        block = Block(str(page.relative_to(ROOT)), line, m["lang"], m["body"], m["mark"], m["note"])
        follows = found and found[-1].lang == "python" and not text[last : m.start()].strip()
        last = m.end()
        if block.lang == "text" and follows and block.mark is None:
            found[-1].shown = block.body
            continue
        found.append(block)
    return found


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_runnable_block_runs_or_says_why_not():
    bad = []
    for page in pages():
        if re.search(r"^[ \t]+```", page.read_text(), re.M):
            bad.append(f"{page.relative_to(ROOT)}: an indented fence (not checked here)")
        for b in blocks(page):
            if b.mark == "tested" and not (ROOT / b.note.split("::")[0]).is_file():
                bad.append(f"{b.page}:{b.line} names a missing test {b.note}")
            if b.mark == "skip" and len(b.note.split()) < 3:
                bad.append(f"{b.page}:{b.line} skips without a reason")
    assert not bad, bad
    runnable = [b for page in pages() for b in blocks(page) if b.lang in RUNNABLE]
    assert sum(b.mark is None for b in runnable) >= 15  # most examples run


def match(shown: str, printed: str) -> bool:
    """Lines equal after stripping trailing blanks; `...` alone: any lines; in a line: any text."""
    parts = []
    for line in shown.strip("\n").splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.rstrip().split("..."))) + r"\n")
    lines = [line.rstrip() for line in printed.strip("\n").splitlines()]
    return re.fullmatch("".join(parts), "".join(f"{line}\n" for line in lines)) is not None


WIDTH = 200  # the terminal width the pages' outputs were printed at
SHELL_SYNTAX = re.compile(r"[|&;<>$`(){}*?]")


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A page's command as a user's shell runs it; a plain `bayesmatrix ...` line runs in this
    process (the console entry point, as tests/cli_helpers.py runs it), since importing torch
    again per command is not what a page checks."""
    argv = shlex.split(command, comments=True)
    if argv[:1] == ["bayesmatrix"] and not SHELL_SYNTAX.search(" ".join(argv)):
        from bayesmatrix.cli import console, err

        widths = console.width, err.width
        console.width = err.width = WIDTH
        try:
            return run_cli(*argv[1:], cwd=cwd)
        finally:
            console.width, err.width = widths
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "COLUMNS": str(WIDTH)}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=1200)  # fmt: skip


def run_block(b: Block, space: dict, cwd: Path) -> None:
    where = f"{b.page}:{b.line}"
    if b.mark == "file":
        (cwd / b.note).write_text(b.body)
        return
    if b.mark or b.lang not in RUNNABLE:
        return
    if b.lang == "python" and ">>>" in b.body:
        test = doctest.DocTestParser().get_doctest(b.body, space, where, b.page, b.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        space.update(test.globs)  # a DocTest works on a copy of the namespace
        assert runner.failures == 0, report.getvalue()
    elif b.lang == "python":
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(b.body, where, "exec"), space)
        if b.shown is not None:
            assert match(b.shown, out.getvalue()), f"{where} printed:\n{out.getvalue()}"
    elif b.lang == "console":
        steps = re.split(r"^\$ ", b.body, flags=re.M)[1:]
        assert steps, f"{where}: a console block without a `$ command`"
        for step in steps:
            command, _, shown = step.partition("\n")
            proc = shell(command, cwd)
            assert proc.returncode == 0, f"{where}: {command}\n{proc.stderr[-2000:]}"
            if shown.strip():
                assert match(shown, proc.stdout), f"{where}: {command} printed:\n{proc.stdout}"
    else:
        for command in b.body.splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                proc = shell(command, cwd)
                assert proc.returncode == 0, f"{where}: {command}\n{proc.stderr[-2000:]}"


def runnable_pages() -> list[Path]:
    return [p for p in pages() if any(b.lang in RUNNABLE and not b.mark for b in blocks(p))]


@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_page_s_examples_print_what_it_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space: dict = {"__name__": "__main__"}
    for b in blocks(page):
        run_block(b, space, tmp_path)
