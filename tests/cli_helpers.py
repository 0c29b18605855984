"""Run the real CLI in a subprocess, as a user would, to see its exit code and streams."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m bayesmatrix.cli ARGS`, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", *args],
        capture_output=True,
        text=True,
        check=check,
    )
