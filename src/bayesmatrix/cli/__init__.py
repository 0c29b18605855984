"""Command line: parse, call the library, show progress and tables, write files.

Commands live in submodules (one per claim family); importing them registers them on `app`.
Any BayesmatrixError becomes one readable line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from bayesmatrix.errors import BayesmatrixError

app = typer.Typer(
    help="Test the Bayesian theory of language models (Dalal & Misra, 'The Matrix') on real "
    "models: read rows of an LM's next-token matrix and turn them into verdicts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, or fail with a message saying how to fix it."""
    from bayesmatrix.data import read_utf8

    return read_utf8(path)


def check_models(models: list[str]) -> None:
    """Resolve every model reference first, so a bad name fails before any work is done."""
    from bayesmatrix.models.hf import resolve

    for name in models:
        resolve(name)


def print_verdicts(verdicts: list) -> None:
    """One line per verdict, never wrapped, so output can be grepped."""
    for verdict in verdicts:
        console.print(str(verdict), markup=False, soft_wrap=True)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        app()
    except BayesmatrixError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


from bayesmatrix.cli import (  # noqa: E402, F401 - registers commands
    claims,
    core,
    icl,
    matrix,
    prior,
    serve,
    validate,
    windtunnel,
)
