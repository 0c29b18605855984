"""The verdicts of the rows, wind-tunnel and matrix claims come out either way on constructed
results (the other claims' are tested with their experiments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.experiments.rows import TOLERANCE, RowsCheck
from bayesmatrix.matrix.compare import LAMBDAS, summarise
from bayesmatrix.matrix.result import MatrixResult
from bayesmatrix.models.trace import Trace
from bayesmatrix.windtunnel.result import WindTunnelResult


def _trace() -> Trace:
    n = 3
    return Trace("m", np.arange(n), ["a"] * n, False, np.zeros(n), np.zeros(n),
                 np.zeros((n, 1), int), np.ones((n, 1), np.float32), [["a"]] * n)  # fmt: skip


@pytest.mark.parametrize(("diff", "expected"), [(1e-6, "supported"), (1e-2, "not supported")])
def test_rows_verdict(diff, expected):
    frame = pd.DataFrame({"position": range(3), "max_abs_diff": diff, "sum_error": 1e-7})
    (v,) = RowsCheck("m", 10, frame, _trace()).verdicts()
    assert v.status == expected and (diff < TOLERANCE) == (expected == "supported")


def _windtunnel(t_kl: float, m_kl: float) -> WindTunnelResult:
    summary = pd.DataFrame(
        [
            {"arch": a, "kl": k, "kl_lo": 0.95 * k, "kl_hi": 1.05 * k, "params": 10, "steps": 5,
             "seconds": 1.0}
            for a, k in (("transformer", t_kl), ("mlp", m_kl))
        ]
    )  # fmt: skip
    return WindTunnelResult("dirichlet", 5, pd.DataFrame(), summary)


def test_windtunnel_verdicts_go_both_ways():
    assert [v.status for v in _windtunnel(0.001, 0.1).verdicts()] == ["supported"] * 2
    assert [v.status for v in _windtunnel(0.05, 0.06).verdicts()] == ["not supported"] * 2


def _matrix(lm_better: bool) -> MatrixResult:
    """Positions in 8 windows: the LM's and the matrix's probability of each next token, and a
    KL that falls (LM better) or rises (matrix better) with the matched length."""
    rng = np.random.default_rng(0)
    n = 400
    matched = rng.integers(0, 9, n)
    good, bad = rng.uniform(0.3, 0.6, n), rng.uniform(0.01, 0.05, n)
    pl, pm = (good, bad) if lm_better else (bad, good)
    sign = -1 if lm_better else 1
    frame = pd.DataFrame(
        {
            "t": np.arange(n),
            "window": np.arange(n) // 50,
            "matched": matched,
            "count": 1,
            "token_id": 0,
            "kl_matrix_lm": 3 + sign * 0.3 * matched + rng.normal(0, 0.1, n),
            "kl_lm_matrix": 3.0,
            "lm_mass": 1.0,
            "log2p_matrix": np.log2(pm),
            "log2p_lm": np.log2(pl),
            **{f"log2p_mix{lam:.2f}": np.log2(lam * pm + (1 - lam) * pl) for lam in LAMBDAS[1:-1]},
        }
    )
    return MatrixResult("m", summarise(frame), {"tokens": 1000, "files": None, "a": 1, "b": 1})


def test_matrix_verdicts_go_both_ways():
    good = [v.status for v in _matrix(lm_better=True).verdicts()]
    bad = [v.status for v in _matrix(lm_better=False).verdicts()]
    assert good[:2] == ["supported", "supported"] and bad[:2] == ["not supported"] * 2
    # mixing in a matrix that is worse everywhere cannot help; one that is better does
    assert good[2] != "supported" and bad[2] == "supported"
