"""A command per registered claim (`bayesmatrix icl`, `bayesmatrix continuity`, ...): the claim
run as `bayesmatrix run NAME` runs it, with one option per setting of the claim, derived from
its settings (`--shots 8` is `-s shots=8`, parsed and checked by the same Setting), so a new
setting (or a plug-in's claim) needs no edit here. Commands are built when asked for (the
group below), so `bayesmatrix trace` does not import every claim.

A claim whose name a command group already has (matrix, prior, windtunnel) is run with
`bayesmatrix run NAME`.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bayesmatrix.errors import BayesmatrixError


class ClaimCommands(TyperGroup):
    """The CLI's commands, and after them one per registered claim (built on demand)."""

    def list_commands(self, ctx: Any) -> list[str]:
        fixed = super().list_commands(ctx)
        return fixed + [name for name in _claim_names() if name not in fixed]

    def get_command(self, ctx: Any, name: str) -> Any:
        found = super().get_command(ctx, name)
        if found is not None or name not in _claim_names():
            return found
        from typer.main import get_command_from_info
        from typer.models import CommandInfo

        from bayesmatrix.claims import get_claim

        title = f"the claim {name}: {get_claim(name).title}"
        info = CommandInfo(name=name, callback=claim_callback(name), short_help=title)
        return get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)


def _claim_names() -> list[str]:
    from bayesmatrix.claims import list_claims

    return [c.name for c in list_claims()]


def option_name(key: str) -> str:
    """The option of a setting: `--` and the key with `-` for `_`."""
    return "--" + key.replace("_", "-")


def claim_callback(name: str) -> Any:
    """The command function of a claim: the shared run options, then one text option per
    setting (None: the profile's value), with a signature typer reads."""
    from bayesmatrix.claims import get_claim
    from bayesmatrix.cli import Device, Dtype, ExecutorName, Force, RayAddress
    from bayesmatrix.cli.run import Models, Profile, run_and_report
    from bayesmatrix.models.registry import DEFAULT_MODEL

    claim = get_claim(name)

    def command(**given: Any) -> None:
        from bayesmatrix.cli import executor, loader

        keys = list(claim.settings)
        assignments = [f"{k}={given[k]}" for k in keys if given.get(k) is not None]
        try:
            settings = claim.parse(assignments, given["profile"])
        except BayesmatrixError as exc:  # name the option as typed, not the setting
            text = re.sub(r"setting (\w+)[= ]", lambda m: f"{option_name(m.group(1))} ", str(exc))
            raise BayesmatrixError(text) from None
        load = loader(given["device"], given["dtype"])
        runner = executor(given["executor_name"], given["ray_address"])
        out = given["out"] or Path("runs") / claim.name
        run_and_report(
            claim, given["model"], settings, out, given["force"], load, given["profile"], runner
        )

    shared = [
        ("model", Models, [DEFAULT_MODEL]),
        ("profile", Profile, "quick"),
        ("out", Annotated[Path | None, typer.Option(help="output folder (default runs/CLAIM; "
                                                          "resumes)")], None),
        ("force", Force, False),
        ("device", Device, "auto"),
        ("dtype", Dtype, "float32"),
        ("executor_name", ExecutorName, "local"),
        ("ray_address", RayAddress, None),
    ]  # fmt: skip
    if claim.scope == "none":
        shared = [p for p in shared if p[0] not in ("model", "device", "dtype")]
    params = [
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for key, kind, default in shared
    ]
    for key, setting in claim.settings.items():
        if key in {p.name for p in params}:
            raise BayesmatrixError(
                f"claim '{claim.name}' has a setting named like an option: {key}"
            )
        text = f"{setting.help} ({setting.kind}{', comma list' if setting.is_list else ''})"
        option = typer.Option(option_name(key), help=text, rich_help_panel="Settings")
        params.append(
            inspect.Parameter(
                key,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, option],
            )
        )
    # typer reads the signature; a function declares no __signature__ to mypy
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__ = claim.name.replace("-", "_")
    command.__doc__ = (
        f"{claim.title}: {claim.description}. Each option left out takes the profile's value "
        f"(`bayesmatrix claims --profile quick` lists them); the same as `bayesmatrix run "
        f"{claim.name}`."
    )
    if claim.scope == "none":
        inner = command

        def command(**given: Any) -> None:
            inner(**given, model=[], device="auto", dtype="float32")

        # typer reads the signature; a function declares no __signature__ to mypy
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__ = inner.__doc__
    return command
