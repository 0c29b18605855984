"""Claim: the LM against the ideal matrix of a real corpus (Python's documentation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesmatrix.claims.registry import Claim, ClaimFigure, Context, register
from bayesmatrix.matrix.result import HELDOUT_EVERY, MatrixResult, matrix_vs_lm


def _data(settings: Mapping[str, Any]) -> list:
    """The corpus files (the first `files` of the manual, or all), named with their sizes."""
    from bayesmatrix.matrix.corpus import python_docs

    files = python_docs()[: settings["files"]]
    return [(f, f.stat().st_size) for f in files]


def _run(ctx: Context, files: list) -> MatrixResult:
    s = ctx.settings
    lm = ctx.load(ctx.model)
    paths = [f for f, _ in files]
    return matrix_vs_lm(lm, ctx.model, paths, s["files"], ctx.out, s["tokens"], s["window"])


def _figures(
    results: Sequence[Any], models: Sequence[str], s: Mapping[str, Any]
) -> list[ClaimFigure]:
    from bayesmatrix.viz import plot_matrix_comparison

    return [
        ClaimFigure(
            f"kl_by_matched-{r.model}",
            plot_matrix_comparison(
                r.comparison.by_matched, r.comparison.mixture, f"{r.model} vs the ideal matrix"
            ),
            f"bayesmatrix matrix build --tokenizer {r.model} --heldout-every {HELDOUT_EVERY} "
            f"--out IDX && bayesmatrix matrix compare IDX {r.model} IDX/heldout.txt "
            f"--max-tokens {s['tokens']} --window {s['window']}",
        )
        for r in results
    ]


CLAIM = register(
    Claim(
        name="matrix",
        title="The ideal matrix of a corpus vs the LM",
        description="the LM against a Bayesian n-gram matrix of Python's documentation",
        rule="each verdict from a 95% interval over resampled windows against 0: the KL slope "
        "by matched length, the LM's saving in bits per token, the mixture's held-out gain",
        scope="model",
        profiles={
            "test": {"tokens": 256, "window": 64, "files": 100},
            "quick": {"tokens": 2048, "window": 128, "files": None},
            "full": {"tokens": 8192, "window": 256, "files": None},
        },
        run=_run,
        load=MatrixResult.load,
        figures=_figures,
        data=_data,
        note=lambda results: " ".join(r.note() for r in results),
    )
)
