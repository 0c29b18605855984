"""Dirichlet mixtures: densities, the mixture posterior, and EM recovering planted mixtures."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.special import logsumexp

from bayesmatrix import BayesmatrixError, Dirichlet, DirichletMixture

PLANTED = DirichletMixture([0.3, 0.5, 0.2], [[20, 2, 2], [2, 20, 5], [3, 3, 3]])


def test_logpdf_is_the_weighted_sum_of_scipy_densities():
    x = PLANTED.rvs(50, random_state=0)
    ref = np.log(
        sum(
            w * st.dirichlet(a).pdf(x.T)
            for w, a in zip(PLANTED.weights, PLANTED.alphas, strict=True)
        )
    )
    np.testing.assert_allclose(PLANTED.logpdf(x), ref, rtol=1e-10)


def test_posterior_predictive_is_a_ratio_of_marginals():
    """p(next = k | counts) = M(counts + e_k) / M(counts) for the ordered marginal M."""
    counts = np.array([3.0, 0.0, 1.0])
    post = PLANTED.posterior(counts)
    base = PLANTED.log_marginal(counts, ordered=True)
    ratio = [
        np.exp(PLANTED.log_marginal(counts + np.eye(3)[k], ordered=True) - base) for k in range(3)
    ]
    np.testing.assert_allclose(post.predictive(), ratio, rtol=1e-10)
    assert post.predictive().sum() == pytest.approx(1.0)
    logw = np.log(PLANTED.weights) + [
        Dirichlet(a).log_marginal(counts, ordered=True) for a in PLANTED.alphas
    ]
    np.testing.assert_allclose(post.weights, np.exp(logw - logsumexp(logw)), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(seed=hs.integers(0, 10**6))
def test_mixture_sequential_updating_equals_batch(seed):
    rng = np.random.default_rng(seed)
    batches = rng.integers(0, 4, size=(3, 3))
    sequential = PLANTED
    for b in batches:
        sequential = sequential.posterior(b)
    batch = PLANTED.posterior(batches)
    np.testing.assert_allclose(sequential.weights, batch.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sequential.alphas, batch.alphas)


def test_em_recovers_planted_mixture():
    from scipy.optimize import linear_sum_assignment

    x = PLANTED.rvs(4000, random_state=1)
    fitted = DirichletMixture.fit(x, 3, random_state=0)
    means = fitted.alphas / fitted.alphas.sum(1, keepdims=True)
    true_means = PLANTED.alphas / PLANTED.alphas.sum(1, keepdims=True)
    cost = ((means[:, None, :] - true_means[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    np.testing.assert_allclose(fitted.weights[rows], PLANTED.weights[cols], atol=0.03)
    np.testing.assert_allclose(fitted.alphas[rows], PLANTED.alphas[cols], rtol=0.15)
    assert fitted.fit_.loglik == pytest.approx(fitted.logpdf(x).sum(), rel=1e-9)
    assert fitted.fit_.bic == pytest.approx(11 * np.log(4000) - 2 * fitted.fit_.loglik)


def test_bic_selects_the_planted_k():
    x = PLANTED.rvs(3000, random_state=2)
    best, fits = DirichletMixture.select_k(x, 5)
    assert best.m == 3
    assert [f.m for f in fits] == [1, 2, 3, 4, 5]


def test_mixture_moments_match_samples():
    x = PLANTED.rvs(100_000, random_state=3)
    np.testing.assert_allclose(PLANTED.mean(), x.mean(0), atol=3e-3)
    np.testing.assert_allclose(PLANTED.var(), x.var(0), rtol=0.03)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: DirichletMixture.fit(PLANTED.rvs(5, 0), 6), "number of points"),
        (lambda: DirichletMixture.fit(PLANTED.rvs(5, 0), 0), "between 1"),
        (lambda: DirichletMixture([0.5, 0.6], [[1, 1], [1, 1]]), "sum to 1"),
        (lambda: DirichletMixture([1.0], [[1, 0]]), "positive"),
        (lambda: DirichletMixture([0.5, 0.5], [[1, 1]]), "same m"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(BayesmatrixError, match=message):
        call()
