"""The information module against scipy, on random and on zero-containing distributions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats

from bayesmatrix.bayes.information import (
    binary_cross_entropy,
    cross_entropy,
    entropy,
    kl,
    tv,
)


@pytest.fixture()
def pq():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), size=5), rng.dirichlet(np.ones(7), size=5)
    p[:, 2] = 0.0  # zeros in p: 0 log 0 = 0
    return p / p.sum(1, keepdims=True), q


def test_against_scipy(pq):
    p, q = pq
    np.testing.assert_allclose(entropy(p), scipy.stats.entropy(p, axis=1), rtol=1e-12)
    np.testing.assert_allclose(entropy(p, base=2), scipy.stats.entropy(p, base=2, axis=1))
    np.testing.assert_allclose(kl(p, q), scipy.stats.entropy(p, q, axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        kl(p, q, base=2), scipy.special.rel_entr(p, q).sum(1) / np.log(2), rtol=1e-12
    )
    np.testing.assert_allclose(cross_entropy(p, q), entropy(p) + kl(p, q), rtol=1e-12)
    np.testing.assert_allclose(tv(p, q), 0.5 * np.abs(p - q).sum(1))
    assert np.all(kl(p, p) == 0) and np.all(tv(p, p) == 0)


def test_zeros_where_the_reference_has_mass_are_floored_not_infinite():
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    assert np.isfinite(kl(p, q)) and kl(p, q) > 300  # 0.5 * log(0.5 / 1e-300)
    assert kl(q, p) == pytest.approx(np.log(2))


def test_binary_cross_entropy():
    q, p = np.array([0.2, 0.9]), np.array([0.3, 0.6])
    expected = -(q * np.log(p) + (1 - q) * np.log(1 - p))
    np.testing.assert_allclose(binary_cross_entropy(q, p), expected)
    assert np.isfinite(binary_cross_entropy(np.array([1.0]), np.array([0.0]))).all()
