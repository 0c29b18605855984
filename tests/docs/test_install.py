"""bayesmatrix built as a wheel and installed outside the source tree (not editable) finds
its package data and runs: the quick tour's calls, a claim, a shipped task, the explorer's
static files. Dependencies come from the test venv; the package itself from the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
TOUR = """
import bayesmatrix, bayesmatrix.server
from pathlib import Path
from bayesmatrix.experiments.icl.tasks import get_task
assert "site" in bayesmatrix.__file__, bayesmatrix.__file__   # the wheel's copy, not the source
trace = bayesmatrix.load("smollm2-135m").trace("The capital of France is", top_k=3)
print(len(trace), trace.topk_tokens[-1][0])
print(len(get_task("animal").examples))
print(sorted(p.name for p in (Path(bayesmatrix.server.__file__).parent / "static").iterdir())[:1])
print(bayesmatrix.run("windtunnel", profile="test", out="out").verdicts()[0].status in
      ("supported", "not supported", "inconclusive"))
"""


def test_a_built_wheel_installs_and_runs_outside_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("bayesmatrix-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", TOUR], capture_output=True, text=True,
                          cwd=work, env=env, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "5  Paris" and int(lines[1]) >= 100 and lines[-1] == "True"
    assert lines[2] != "[]"
