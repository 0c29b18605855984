"""The real CLI, run as a user would: in this process (`run_cli`: the console entry point with
its exit code and both streams, without importing torch and loading a model again per call),
or as a process of its own (`run_cli_process`) where the process itself is the subject:
signals, locks held by another process, argv bytes, environment variables, plug-ins found at
start-up, read-only mounts."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from pathlib import Path


def run_cli(
    *args: str, check: bool = False, cwd: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`bayesmatrix ARGS` in this process: the console entry point with sys.argv set, stdout
    and stderr captured, the exit code it raises (an uncaught exception is printed as a
    process would print it, with code 1), and every output-folder lock it took released, as
    the end of a process releases them."""
    from bayesmatrix.cli import main
    from bayesmatrix.results import outdir

    held = set(outdir.held())
    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, os.getcwd()
    code = 0
    try:
        sys.argv = ["bayesmatrix", *args]
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
        for folder in set(outdir.held()) - held:
            outdir.release(folder)
    done = subprocess.CompletedProcess(["bayesmatrix", *args], code, out.getvalue(), err.getvalue())
    if check and code:
        raise subprocess.CalledProcessError(code, done.args, done.stdout, done.stderr)
    return done


def run_cli_process(
    *args: str,
    check: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m bayesmatrix.cli ARGS` as a process of its own, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", *args],
        capture_output=True,
        text=True,
        check=check,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
