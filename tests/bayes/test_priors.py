"""Synthetic priors: the logistic-normal density is a proper density on the simplex."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmatrix.bayes import Dirichlet, LogisticNormal, SpikyPrior


def test_logistic_normal_density_integrates_to_one():
    """Importance sampling from the uniform Dirichlet(1,1,1), whose density is 2."""
    prior = LogisticNormal.random(3, scale=0.8, seed=4)
    u = Dirichlet([1.0, 1.0, 1.0]).rvs(400_000, random_state=0)
    ratio = np.exp(prior.logpdf(u)) / 2.0
    assert ratio.mean() == pytest.approx(1.0, abs=4 * ratio.std() / np.sqrt(len(u)) + 1e-3)


def test_logistic_normal_samples_follow_their_density():
    """Mean of log-density under samples = minus the entropy; compare with a second sample."""
    prior = LogisticNormal.random(4, seed=1)
    a = prior.logpdf(prior.rvs(50_000, 1))
    b = prior.logpdf(prior.rvs(50_000, 2))
    assert a.mean() == pytest.approx(b.mean(), abs=4 * a.std() / np.sqrt(50_000) * 1.5)


def test_spiky_prior_is_spiky():
    x = SpikyPrior(8).rvs(2000, 0)
    np.testing.assert_allclose(x.sum(1), 1.0)
    top2 = np.sort(x, axis=1)[:, -2:].sum(1)
    assert np.all(top2 >= 0.95 - 1e-12)
