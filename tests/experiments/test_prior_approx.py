"""Theorem 2 experiment: numbers against direct computation; a verdict that can go either way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.bayes import Dirichlet, DirichletMixture
from bayesmatrix.experiments.prior_approx import (
    PriorApproxResult,
    approximate_prior,
    lm_rows,
    sample_prior,
)
from tests.cli_helpers import run_cli


def test_logistic_normal_gap_shrinks_and_verdict_supported(tmp_path):
    x, truth = sample_prior("logistic-normal", 3, 2400, seed=0)
    result = approximate_prior(x[:1600], x[1600:], k_max=4, source="logistic-normal", truth=truth)
    frame = result.frame.set_index("k")
    assert frame.loc[result.best_k, "gap_to_truth"] < frame.loc[1, "gap_to_truth"] / 3
    assert result.verdict().status == "supported"
    mix = DirichletMixture.fit(x[:1600], 2, restarts=3, random_state=0)
    assert frame.loc[2, "heldout_nll"] == pytest.approx(-mix.logpdf(x[1600:]).mean(), rel=1e-9)
    loaded = PriorApproxResult.load(result.save(tmp_path / "r"))
    pd.testing.assert_frame_equal(loaded.frame, result.frame)
    assert loaded.verdict() == result.verdict()


def test_single_dirichlet_prior_is_not_reported_as_needing_mixtures():
    """When the prior *is* one Dirichlet, mixtures cannot beat k=1 on held-out data."""
    x = Dirichlet([2.0, 5.0, 1.0]).rvs(1500, random_state=3)
    result = approximate_prior(x[:1000], x[1000:], k_max=3, source="dirichlet", truth=None)
    assert result.verdict().status != "supported"


def test_too_few_points_is_a_clear_error():
    with pytest.raises(ValueError, match="need at least"):
        approximate_prior(np.full((3, 3), 1 / 3), np.full((3, 3), 1 / 3), k_max=4)


@pytest.mark.slow
def test_lm_rows_are_restricted_renormalised_rows(smollm2):
    text = "The cat sat on the mat. The dog sat on the rug. " * 6
    rows = lm_rows(smollm2, text, v=4, n=40, window=16)
    assert rows.shape == (40, 4)
    np.testing.assert_allclose(rows.sum(1), 1.0)
    ids, _ = smollm2.tokenize(text)
    full = smollm2.trace(ids[:16], rows="float32", top_k=0).rows
    support = np.argsort(
        -np.concatenate(
            [
                t.rows
                for t in smollm2.trace_many(
                    [ids[i : i + 16] for i in range(0, 40, 16)], rows="float32", top_k=0
                )
            ]
        )[:40].mean(0)
    )[:4]
    expected = full[:, support] + 1e-12
    np.testing.assert_allclose(rows[:16], expected / expected.sum(1, keepdims=True), rtol=1e-5)


def test_cli_prior_approx_writes_results_and_verdict(tmp_path):
    proc = run_cli(
        "prior",
        "approx",
        "--source",
        "spiky",
        "--n",
        "600",
        "--k-max",
        "3",
        "--out",
        str(tmp_path),
        check=True,
    )
    frame = pd.read_parquet(tmp_path / "frame.parquet")
    assert list(frame["k"]) == [1, 2, 3]
    assert (tmp_path / "heldout_nll.png").is_file() and (tmp_path / "simplex.png").is_file()
    status = PriorApproxResult.load(tmp_path).verdict().status
    assert f"[{status}]" in proc.stdout


def test_cli_prior_approx_bad_source(tmp_path):
    proc = run_cli("prior", "approx", "--source", "gaussian", "--out", str(tmp_path))
    assert proc.returncode == 2 and "choose from" in proc.stderr
