"""Claim: small networks trained where the exact posterior is known reach it (transformer)
while a parameter-matched MLP does not (the Bayesian wind tunnel)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.windtunnel.result import (
    MATCHES,
    MLP_FURTHER,
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
    results: Sequence[WindTunnelResult], models: Sequence[str], s: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz.windtunnel_plot import plot_kl_by_position

    (result,) = results
    return [("kl_by_position", plot_kl_by_position(result.frames(), s["task"]))]


def _examples() -> list[WindTunnelResult]:
    """A transformer at the posterior with an MLP far off, and both off alike."""

    def result(t_kl: float, m_kl: float) -> WindTunnelResult:
        summary = pd.DataFrame(
            [{"arch": a, "seed": 0, "kl": k, "kl_lo": 0.95 * k, "kl_hi": 1.05 * k, "params": 10,
              "steps": 5, "seconds": 1.0} for a, k in (("transformer", t_kl), ("mlp", m_kl))]
        )  # fmt: skip
        frame = pd.DataFrame(
            [{"arch": a, "seed": 0, "position": p, "kl_bits": k * (1 + p) / 8,
              "entropy_gap_bits": k / 2, "exact_entropy_bits": 2.0}
             for a, k in (("transformer", t_kl), ("mlp", m_kl)) for p in range(8)]
        )  # fmt: skip
        return WindTunnelResult("dirichlet", 5, frame, summary)

    return [result(0.001, 0.1), result(0.05, 0.06)]


def _settings(steps: int) -> dict[str, Any]:
    archs = ["transformer", "mlp"]
    return {"task": "dirichlet", "vocab": 8, "alpha": 1.0, "length": 32, "archs": archs} | {
        "steps": steps
    }


CLAIM = register(
    Claim(
        name="windtunnel",
        title="Bayesian wind tunnel: Dirichlet-categorical, V=8",
        description="a small transformer matches the exact posterior; a matched MLP does not",
        rules=(MATCHES, MLP_FURTHER),
        scope="none",
        settings={
            "task": Setting("wind-tunnel task", "str", choices=("dirichlet", "markov")),
            "vocab": Setting("vocabulary V", "int", min=2, max=4096),
            "alpha": Setting("Dirichlet alpha of each category", "float", min=1e-6, max=1e6),
            "length": Setting("sequence length", "int", min=2, max=4096),
            "archs": Setting(
                "architectures compared",
                "list[str]",
                choices=("transformer", "mlp", "lstm", "mamba"),
            ),
            "steps": Setting("training steps per architecture", "int", min=1, max=1_000_000),
        },
        profiles={"test": _settings(150), "quick": _settings(1500), "full": _settings(20_000)},
        run=_run,
        result=WindTunnelResult,
        figures=_figures,
        examples=_examples,
        order=130,
        results_page="capabilities/windtunnel.md",
    )
)
