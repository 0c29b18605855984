"""Claim: in-context learning is exchangeable after averaging over demonstration orderings
(Chlon et al. 2025), measured with K orderings per cell at several n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from bayesmatrix.claims.icl import sweep, sweep_settings, task_data
from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register, validate_figure
from bayesmatrix.experiments.icl.order import AVERAGED_SPREAD, OrderResult, order_cell
from bayesmatrix.experiments.icl.tasks import Task


def _run(ctx: Context, tasks: list[Task]) -> OrderResult:
    s = ctx.settings
    ns, k = tuple(s["ns"]), s["orderings"]
    cell = partial(order_cell, ns=ns, orderings=k)
    readings = sweep(ctx, tasks, cell, f"order-n{'-'.join(map(str, ns))}-k{k}-true")
    return OrderResult(readings, s["bootstrap"])


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_order_effects

    return validate_figure("order_effects", plot_order_effects(results), "icl-order", models)


CLAIM = register(
    Claim(
        name="icl-order",
        title="Order effects: exchangeable after averaging over orderings (Chlon et al.)",
        description="the ordering-to-average gap falls with n and averaging K orderings "
        "removes the order effect",
        rule="supported when the exponent of the expectation-realisation gap against n has a "
        f"95% interval below 0 and the spread left after averaging K orderings lies below "
        f"{AVERAGED_SPREAD}; not supported when either lies wholly on the other side; a learner "
        "with no order effect at all is supported",
        scope="models",
        profiles={"full": sweep_settings(5, ns=[4, 8, 16, 32], orderings=8, bootstrap=200)},
        run=_run,
        load=OrderResult.load,
        figures=_figures,
        data=task_data,
    )
)
