"""Claim: small networks trained where the exact posterior is known reach it (transformer)
while a parameter-matched MLP does not (the Bayesian wind tunnel)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.windtunnel.result import (
    MLP_FACTOR,
    TARGET_BITS,
    WindTunnelResult,
    compare_architectures,
)


def _run(ctx: Context, _: None) -> WindTunnelResult:
    from bayesmatrix.windtunnel import make_task

    s = ctx.settings
    task = make_task(s["task"], vocab=s["vocab"], alpha=s["alpha"], length=s["length"])
    return compare_architectures(
        task, s["task"], s["archs"], s["steps"], ctx.out, force=ctx.force, executor=ctx.executor
    )


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz.windtunnel_plot import plot_kl_by_position

    (result,) = results
    return [
        ClaimFigure(
            "kl_by_position",
            plot_kl_by_position(result.frames(), s["task"]),
            f"bayesmatrix windtunnel run --task {s['task']} --V {s['vocab']} "
            f"--arch {','.join(s['archs'])} --steps {s['steps']} --minutes 120",
        )
    ]


def _settings(steps: int) -> dict:
    archs = ["transformer", "mlp"]
    return {"task": "dirichlet", "vocab": 8, "alpha": 1.0, "length": 32, "archs": archs} | {
        "steps": steps
    }


CLAIM = register(
    Claim(
        name="windtunnel",
        title="Bayesian wind tunnel: Dirichlet-categorical, V=8",
        description="a small transformer matches the exact posterior; a matched MLP does not",
        rule=f"supported when the transformer's mean KL interval lies below {TARGET_BITS} bits "
        f"per position, and when the MLP/transformer KL ratio's interval lies above {MLP_FACTOR}",
        scope="none",
        profiles={"test": _settings(150), "quick": _settings(3000), "full": _settings(20_000)},
        run=_run,
        load=WindTunnelResult.load,
        figures=_figures,
    )
)
