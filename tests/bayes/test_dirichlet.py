"""Dirichlet against scipy.stats, brute-force enumeration and independent optimisers."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.optimize import minimize

from bayesmatrix import BayesmatrixError, Beta, Dirichlet

alphas = hs.lists(hs.floats(0.05, 30), min_size=2, max_size=7).map(np.array)


@settings(max_examples=60, deadline=None)
@given(alpha=alphas, seed=hs.integers(0, 10**6))
def test_logpdf_and_moments_match_scipy(alpha, seed):
    d = Dirichlet(alpha)
    x = st.dirichlet(alpha).rvs(5, random_state=seed)
    x = np.clip(x, 1e-300, None)
    x /= x.sum(1, keepdims=True)
    np.testing.assert_allclose(d.logpdf(x), st.dirichlet(alpha).logpdf(x.T), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d.entropy(), st.dirichlet(alpha).entropy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d.mean(), st.dirichlet(alpha).mean(), rtol=1e-12)
    np.testing.assert_allclose(d.var(), st.dirichlet(alpha).var(), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(alpha=alphas, seed=hs.integers(0, 10**6))
def test_log_marginal_matches_scipy_dirichlet_multinomial(alpha, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 9, size=(4, len(alpha)))
    ref = st.dirichlet_multinomial(alpha, counts.sum(1)).logpmf(counts)
    np.testing.assert_allclose(Dirichlet(alpha).log_marginal(counts), ref, rtol=1e-10, atol=1e-10)


def test_ordered_marginal_is_a_distribution_over_sequences():
    """Brute force: the probabilities of all 3^4 sequences sum to 1, and each equals the
    product of sequential posterior predictives (the chain rule)."""
    d = Dirichlet([0.7, 1.3, 2.0])
    total = 0.0
    for seq in itertools.product(range(3), repeat=4):
        counts = np.bincount(seq, minlength=3)
        p = np.exp(d.log_marginal(counts, ordered=True))
        chain, current = 1.0, d
        for token in seq:
            chain *= current.predictive()[token]
            current = current.posterior(np.eye(3)[token])
        assert p == pytest.approx(chain, rel=1e-12)
        total += p
    assert total == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(alpha=alphas, seed=hs.integers(0, 10**6))
def test_sequential_updating_equals_batch(alpha, seed):
    rng = np.random.default_rng(seed)
    batches = rng.integers(0, 5, size=(4, len(alpha)))
    sequential = Dirichlet(alpha)
    for b in batches:
        sequential = sequential.posterior(b)
    batch = Dirichlet(alpha).posterior(batches)
    np.testing.assert_allclose(sequential.alpha, batch.alpha)
    assert batch.predictive().sum() == pytest.approx(1.0)


def test_kl_matches_monte_carlo():
    p, q = Dirichlet([2.0, 0.5, 3.0]), Dirichlet([1.0, 1.0, 1.5])
    x = p.rvs(200_000, random_state=0)
    mc = p.logpdf(x) - q.logpdf(x)
    assert p.kl(q) == pytest.approx(mc.mean(), abs=4 * mc.std() / np.sqrt(len(x)))
    assert p.kl(p) == pytest.approx(0.0, abs=1e-12)


def test_fit_recovers_parameters_and_is_the_mle():
    true = np.array([0.3, 1.0, 2.5, 6.0])
    x = Dirichlet(true).rvs(20_000, random_state=1)
    fitted = Dirichlet.fit(x)
    np.testing.assert_allclose(fitted.alpha, true, rtol=0.05)
    assert fitted.fit_.converged
    ref = minimize(
        lambda la: -st.dirichlet(np.exp(la)).logpdf(x.T).sum(), np.zeros(4), method="L-BFGS-B"
    )
    assert fitted.fit_.loglik >= -ref.fun - 1e-6 * abs(ref.fun)
    np.testing.assert_allclose(
        fitted.fit_.loglik, st.dirichlet(fitted.alpha).logpdf(x.T).sum(), rtol=1e-10
    )


def test_fit_zero_policy_never_nan():
    x = Dirichlet([1.0, 1.0, 1.0]).rvs(200, random_state=2)
    x[:10, 0] = 0.0
    x /= x.sum(1, keepdims=True)
    fitted = Dirichlet.fit(x)
    assert np.all(np.isfinite(fitted.alpha)) and np.all(fitted.alpha > 0)
    assert fitted.alpha[0] < fitted.alpha[1]  # true zeros pull that alpha down


def test_fit_counts_recovers_and_matches_scipy_optimum():
    true = np.array([0.8, 2.0, 4.0])
    rng = np.random.default_rng(3)
    theta = Dirichlet(true).rvs(4000, random_state=rng)
    counts = np.array([rng.multinomial(30, p) for p in theta])
    fitted = Dirichlet.fit_counts(counts)
    np.testing.assert_allclose(fitted.alpha, true, rtol=0.1)

    def nll(log_alpha):
        return -st.dirichlet_multinomial(np.exp(log_alpha), 30).logpmf(counts).sum()

    ref = minimize(
        nll,
        np.log(fitted.alpha) + 0.3,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 5000},
    )
    np.testing.assert_allclose(fitted.alpha, np.exp(ref.x), rtol=1e-3)
    assert fitted.fit_.loglik == pytest.approx(-nll(np.log(fitted.alpha)), rel=1e-10)


def test_beta_is_the_two_category_dirichlet():
    b = Beta(2.0, 3.5)
    assert isinstance(b, Dirichlet) and (b.a, b.b) == (2.0, 3.5)
    x = np.array([[0.2, 0.8], [0.7, 0.3]])
    np.testing.assert_allclose(b.logpdf(x), st.beta(2.0, 3.5).logpdf(x[:, 0]), rtol=1e-10)
    assert b.posterior([3, 1]).alpha.tolist() == [5.0, 4.5]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Dirichlet([1.0, 0.0]), "positive"),
        (lambda: Dirichlet([1.0, -2.0]), "positive"),
        (lambda: Dirichlet([1.0, np.nan]), "NaN or inf"),
        (lambda: Dirichlet([1.0]), "at least 2"),
        (lambda: Dirichlet([1.0, 1.0]).logpdf([0.5, 0.6]), "off the simplex"),
        (lambda: Dirichlet([1.0, 1.0]).logpdf([1.2, -0.2]), "negative"),
        (lambda: Dirichlet.fit(np.empty((0, 3))), "non-empty"),
        (lambda: Dirichlet.fit([[np.nan, 1.0]]), "NaN or inf"),
        (lambda: Dirichlet([1.0, 1.0]).posterior([1, -1]), "non-negative"),
        (lambda: Dirichlet([1.0, 1.0, 1.0]).posterior([1, 1]), "categories"),
        (lambda: Dirichlet.fit_counts([[1, 0], [2, 0]]), "never observed"),
    ],
)
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert issubclass(BayesmatrixError, ValueError)


def test_bayes_package_does_not_import_torch():
    code = "import sys, bayesmatrix.bayes, bayesmatrix; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
