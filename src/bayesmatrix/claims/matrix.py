"""Claim: the LM against the ideal matrix of a real corpus (Python's documentation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayesmatrix.claims.claim import Claim, Context, Setting
from bayesmatrix.claims.registry import register
from bayesmatrix.matrix.result import CLOSER, GENERALISES, MIXTURE, MatrixResult, matrix_vs_lm


def _data(settings: Mapping[str, Any]) -> list:
    """The corpus files (the first `files` of the manual, or all), named with their sizes."""
    from bayesmatrix.matrix.corpus import python_docs

    files = python_docs()[: settings["files"]]
    return [(f, f.stat().st_size) for f in files]


def _run(ctx: Context, files: list) -> MatrixResult:
    s = ctx.settings
    lm = ctx.load_model(ctx.model)
    paths = [f for f, _ in files]
    return matrix_vs_lm(lm, ctx.model, paths, s["files"], ctx.out, s["tokens"], s["window"])


def _figures(
    results: Sequence[MatrixResult], models: Sequence[str], s: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    from bayesmatrix.viz import plot_matrix_comparison

    return [
        (
            f"kl_by_matched-{r.model}",
            plot_matrix_comparison(
                r.comparison.by_matched, r.comparison.mixture, f"{r.model} vs the ideal matrix"
            ),
        )
        for r in results
    ]


def _examples() -> list[MatrixResult]:
    """An LM better than the matrix everywhere, and a matrix better than the LM: positions in
    8 windows whose KL falls (or rises) with the matched length."""
    from bayesmatrix.matrix.compare import LAMBDAS, summarise

    def result(lm_better: bool) -> MatrixResult:
        rng = np.random.default_rng(0)
        n = 400
        matched = rng.integers(0, 9, n)
        good, bad = rng.uniform(0.3, 0.6, n), rng.uniform(0.01, 0.05, n)
        pl, pm = (good, bad) if lm_better else (bad, good)
        sign = -1 if lm_better else 1
        frame = pd.DataFrame(
            {
                "t": np.arange(n), "window": np.arange(n) // 50, "matched": matched,
                "count": 1, "token_id": 0,
                "kl_matrix_lm": 3 + sign * 0.3 * matched + rng.normal(0, 0.1, n),
                "kl_lm_matrix": 3.0, "lm_mass": 1.0,
                "log2p_matrix": np.log2(pm), "log2p_lm": np.log2(pl),
                **{f"log2p_mix{lam:.2f}": np.log2(lam * pm + (1 - lam) * pl)
                   for lam in LAMBDAS[1:-1]},
            }
        )  # fmt: skip
        index = {"tokens": 1000, "files": None, "a": 1.0, "b": 1.0}
        return MatrixResult("m", summarise(frame), index)

    return [result(True), result(False)]


CLAIM = register(
    Claim(
        name="matrix",
        title="The ideal matrix of a corpus vs the LM",
        description="the LM against a Bayesian n-gram matrix of Python's documentation",
        rules=(
            CLOSER,
            GENERALISES,
            MIXTURE,
            "every interval from resampled windows of the held-out text",
        ),
        scope="model",
        settings={
            "tokens": Setting("held-out tokens compared", "int", min=2, max=10_000_000),
            "window": Setting("LM context window per chunk", "int", min=2, max=100_000),
            "files": Setting(
                "manual source files indexed (none: all)",
                "int",
                min=2,
                max=100_000,
                optional=True,
            ),
        },
        profiles={
            "test": {"tokens": 256, "window": 64, "files": 100},
            "quick": {"tokens": 2048, "window": 128, "files": None},
            "full": {"tokens": 8192, "window": 256, "files": None},
        },
        run=_run,
        result=MatrixResult,
        figures=_figures,
        examples=_examples,
        data=_data,
        note=lambda results: " ".join(r.note() for r in results),
        requires=frozenset({"full_rows"}),
        order=140,
        results_page="capabilities/matrix.md",
    )
)
