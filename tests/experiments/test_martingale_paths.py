"""The martingale test on sampled paths (Falck et al.): exact, windowed and smoothing learners
where the answer is known; the statistics against independent computations; the LM's stream
against separate forward passes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesmatrix.bayes.stats import binomial_p, holm
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.paths import (
    BetaBernoulliSampler,
    LMSampler,
    MartingalePathsResult,
    SmootherSampler,
    WindowSampler,
    reference_variance,
    run_paths,
    sample_paths,
)
from bayesmatrix.models.loading import Preloaded

GRID = {"thetas": (0.2, 0.5, 0.8), "ns": (8, 16, 32, 64), "seeds": (0, 1), "paths": 48}


def statuses(sampler) -> tuple[str, str]:
    frame = run_paths(sampler, "learner", horizon=32, **GRID)
    first, second = MartingalePathsResult(frame, bootstrap=200).verdicts()
    return first.status, second.status


def test_exact_learner_passes_both():
    assert statuses(BetaBernoulliSampler()) == ("supported", "supported")


def test_window_learner_fails_both():
    assert statuses(WindowSampler(8)) == ("not supported", "not supported")


def test_smoother_is_a_martingale_whose_uncertainty_does_not_shrink():
    """p <- p + r(z - p) sampled from itself is a martingale (E[z] = p), so the first test must
    pass; its spread does not depend on n, so the rate test must fail."""
    assert statuses(SmootherSampler(0.2)) == ("supported", "not supported")


def test_binomial_p_against_enumeration():
    for ones, trials, p in ((3, 20, 0.4), (19, 20, 0.5), (0, 12, 0.05), (7, 7, 0.9)):
        pmf = stats.binom.pmf(np.arange(trials + 1), trials, p)
        expected = pmf[pmf <= pmf[ones] * (1 + 1e-7)].sum()
        assert binomial_p(ones, trials, p) == pytest.approx(min(expected, 1.0), rel=1e-6)


def test_holm_step_down():
    # sorted p: 0.001 <= 0.05/4, 0.012 <= 0.05/3, 0.03 > 0.05/2 stops; 0.04 is not rejected
    np.testing.assert_array_equal(
        holm(np.array([0.03, 0.001, 0.04, 0.012])), [False, True, False, True]
    )
    assert not holm(np.array([0.2, 0.5])).any()


def test_reference_variance_against_monte_carlo():
    observed = [1, 0, 1, 1, 0, 1, 1, 1]
    probs, _ = sample_paths(BetaBernoulliSampler(), observed, paths=40_000, horizon=16, seed=4)
    assert probs[:, -1].mean() == pytest.approx(probs[0, 0], abs=2e-3)  # the martingale itself
    assert probs[:, -1].var() == pytest.approx(reference_variance(6, 8, 16), rel=0.03)


def test_bad_inputs():
    with pytest.raises(BayesmatrixError, match="at least 2 paths"):
        sample_paths(BetaBernoulliSampler(), [1, 0], paths=1, horizon=4)


@pytest.mark.slow
def test_lm_stream_equals_separate_forward_passes(embedded):
    sampler = LMSampler(embedded)
    probs, flips = sample_paths(sampler, [1, 0, 1, 1], paths=2, horizon=3, seed=0)
    for j in range(2):
        for t in range(4):
            seen = [1, 0, 1, 1, *flips[j, :t].astype(int)]
            context = "Coin flips:" + "".join(f" {z}," for z in seen)
            one, zero = embedded.score(context, " 1"), embedded.score(context, " 0")
            assert probs[j, t] == pytest.approx(1 / (1 + np.exp(zero - one)), abs=1e-4)
    assert all(0 < m.min() <= 1 for m in sampler.mass)


@pytest.mark.slow
def test_claim_resumes_by_cell_and_draws(smollm2, tmp_path):
    from bayesmatrix.claims import get_claim, run_claim, verdicts_of
    from bayesmatrix.results.store import MARKER

    claim = get_claim("martingale-paths")
    settings = claim.configure("full", thetas=[0.5], ns=[4, 8], paths=4, horizon=3, bootstrap=20)
    (result,) = run_claim(claim, ["smollm2-135m"], settings, tmp_path, Preloaded(smollm2))
    assert len(result.paths) == 2 * 4 and len(verdicts_of([result])) == 2
    where = tmp_path / "smollm2-135m"
    cells = sorted(where.rglob("cells/*/*.parquet"))
    assert len(cells) == 2
    stamp = cells[1].stat().st_mtime_ns
    cells[0].unlink()
    (where / MARKER).unlink()
    (again,) = run_claim(claim, ["smollm2-135m"], settings, tmp_path, Preloaded(smollm2))
    assert cells[0].is_file() and cells[1].stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again.paths["p_now"], result.paths["p_now"], atol=1e-6)
    (figure,) = claim.draw([again], ["smollm2-135m"], "full", settings)
    assert figure.command.startswith(
        "bayesmatrix run martingale-paths --model smollm2-135m --profile full -s "
    )
