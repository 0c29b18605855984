"""Command line: parse, call the library, show progress and tables, write files.

Commands live in submodules (one per claim family); importing them registers them on `app`.
Any BayesmatrixError becomes one readable line on stderr and exit code 2.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    from bayesmatrix.executor import Executor
    from bayesmatrix.models.loading import Loader

from bayesmatrix.cli.claims import ClaimCommands

app = typer.Typer(
    cls=ClaimCommands,
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


Force = Annotated[bool, typer.Option(help="recompute results saved there from other inputs")]
Device = Annotated[
    str, typer.Option(help="cpu, cuda, cuda:N, mps, or auto (CUDA, then MPS, then CPU)")
]
Dtype = Annotated[
    str, typer.Option(help="weights' dtype: float32, bfloat16 or float16 (statistics: float32)")
]

ExecutorName = Annotated[
    str, typer.Option("--executor", help="where units of work run: local (here) or ray")
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="with --executor ray: a cluster address, or auto to join a running one "
        "(`ray start --head`); default: start a local instance"
    ),
]


def executor(name: str, ray_address: str | None) -> Executor:
    """The executor of --executor/--ray-address; a bad name or a missing Ray fails now."""
    from bayesmatrix.executor import make_executor

    return make_executor(name, ray_address)


def loader(device: str, dtype: str) -> Loader:
    """bayesmatrix.load with this placement; a device or dtype this machine cannot use fails
    now, with one line, before any work."""
    from bayesmatrix.models.loading import Loader

    return Loader(device, dtype).check()


def output_dir(out: Path, option: str = "--out") -> Path:
    """This run's output folder: new, empty or one bayesmatrix made, locked for this run
    (see bayesmatrix.results.outdir); anything else fails now, with one line."""
    from bayesmatrix.results.outdir import claim_output_dir

    return claim_output_dir(out, option)


def finite_float(text: str) -> float:
    """A float option's value; NaN and infinities are refused (they turn budgets and
    thresholds into silent no-ops)."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise typer.BadParameter(f"{text!r} is not a finite number")
    return value


T = TypeVar("T", bound=Hashable)


def distinct(
    values: Sequence[T], option: str, key: Callable[[T], Hashable] | None = None
) -> list[T]:
    """The values of a repeated option (or comma list), refusing one given twice: a
    duplicate would be counted twice (seeds doubled, a file indexed twice)."""
    seen: dict[Hashable, T] = {}
    for value in values:
        k = value if key is None else key(value)
        if k in seen:
            same = "" if seen[k] == value else f" (the same as {seen[k]})"
            raise BayesmatrixError(f"{option} {value} is given twice{same}; pass each once")
        seen[k] = value
    return list(values)


def print_records(records: list) -> None:
    """One line per verdict record (its sentence), never wrapped, so output can be grepped."""
    for record in records:
        console.print(record.sentence, markup=False, soft_wrap=True)


def main() -> None:
    """Console entry point: user errors (ours, and bad options caught by the parser) become one
    line on stderr and exit code 2; Ctrl-C exits with 130."""
    # OpenMP threads that sleep instead of spinning while they wait: as fast on an idle
    # machine, and no collapse when another process holds a core (benchmarks/threads.py).
    # Read once, when torch starts OpenMP, so set before any command imports torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # typer vendors click; its exception types live in typer._click (not re-exported)
    from typer._click import exceptions as click_errors

    check_arguments(sys.argv[1:])
    try:
        code = app(standalone_mode=False, prog_name="bayesmatrix")
    except BayesmatrixError as exc:
        fail(str(exc))
    except OSError as exc:  # the environment: a read-only or full disk, a file in the way
        fail(describe_os_error(exc))
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        raise SystemExit(0) from None
    except click_errors.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        fail(exc.format_message() + hint, exc.exit_code)
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def check_arguments(args: Sequence[str]) -> None:
    """Refuse arguments that are not valid UTF-8 (a Latin-1 terminal, a file name in another
    encoding): every later step would fail on them deep inside, with a traceback."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            fail(
                f"argument {number} ({shown!r}) is not valid UTF-8; set your terminal to UTF-8 "
                "(e.g. LANG=C.UTF-8) or rename the file"
            )


def describe_os_error(exc: OSError) -> str:
    """One line for an error of the environment, with what to do about it."""
    import errno

    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hints = {
        errno.ENOSPC: "free some space or pass an --out on another disk",
        errno.EROFS: "pass an --out on a writable disk",
        errno.EACCES: "check the permissions, or pass another --out",
        errno.EDQUOT: "free some space or pass an --out on another disk",
    }
    hint = hints.get(
        exc.errno or 0, "check the path and the disk, then rerun (finished work is kept)"
    )
    return f"{where}{reason}; {hint}"


def fail(message: str, code: int = 2) -> None:
    """Print one error line (newlines folded) and exit."""
    line = " ".join(message.split())
    err.print(f"error: {line}", highlight=False, soft_wrap=True, markup=False)
    raise SystemExit(code)


from bayesmatrix.cli import (  # noqa: E402, F401 - registers commands
    atlas,
    core,
    matrix,
    prior,
    run,
    serve,
    validate,
    windtunnel,
)
