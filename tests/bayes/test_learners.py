"""Sequence learners: predictions against conjugate updating, and recovery of their own curves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from bayesmatrix import (
    BayesmatrixError,
    Beta,
    BetaBernoulliLearner,
    Dirichlet,
    HypothesisMixtureLearner,
    RecencyLearner,
)


def outcomes(seed: int, s: int = 5, t: int = 24, p: float = 0.7) -> np.ndarray:
    return (np.random.default_rng(seed).random((s, t)) < p).astype(float)


def test_beta_bernoulli_equals_beta_posterior_predictive():
    o = outcomes(0, s=1)[0]
    pred = BetaBernoulliLearner(0.3, 4.0).predict(o)[0]
    for t in range(len(o)):
        post = Beta(0.3 * 4.0, 0.7 * 4.0).posterior([o[:t].sum(), t - o[:t].sum()])
        assert pred[t] == pytest.approx(post.predictive()[0], rel=1e-12)


def test_recency_with_decay_one_is_beta_bernoulli():
    o = outcomes(1)
    np.testing.assert_allclose(
        RecencyLearner(0.4, 3.0, 1.0).predict(o),
        BetaBernoulliLearner(0.4, 3.0).predict(o),
        rtol=1e-12,
    )
    forgetting = RecencyLearner(0.4, 3.0, 0.5).predict(o)
    assert not np.allclose(forgetting, BetaBernoulliLearner(0.4, 3.0).predict(o))


def test_hypothesis_mixture_against_brute_force_bayes():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=(1, 6))
    hyp = np.stack([y[0], (y[0] + 1) % 3])[None]  # one right mapping, one shifted
    w, noise, a = np.array([0.2, 0.5, 0.3]), 0.1, 1.5
    pred = HypothesisMixtureLearner(w, noise, a).predict(y, hyp, 3)[0]
    for t in range(6):
        like = []
        for h in range(2):
            like.append(
                np.prod([(1 - noise) if hyp[0, h, i] == y[0, i] else noise / 2 for i in range(t)])
            )
        counts = np.bincount(y[0, :t], minlength=3)
        like.append(np.exp(Dirichlet(np.full(3, a / 3)).log_marginal(counts, ordered=True)))
        post = w * np.array(like)
        post /= post.sum()
        expected = sum(
            post[h] * np.where(np.arange(3) == hyp[0, h, t], 1 - noise, noise / 2) for h in range(2)
        )
        expected = expected + post[2] * Dirichlet(np.full(3, a / 3)).posterior(counts).predictive()
        np.testing.assert_allclose(pred[t], expected, rtol=1e-10)
        assert pred[t].sum() == pytest.approx(1.0)


@settings(max_examples=8, deadline=None)
@given(kappa=hs.floats(0.3, 60), mean=hs.floats(0.05, 0.95), seed=hs.integers(0, 1000))
def test_beta_bernoulli_recovers_its_own_parameters(kappa, mean, seed):
    o = outcomes(seed)
    curve = BetaBernoulliLearner(mean, kappa).predict(o)
    fitted = BetaBernoulliLearner(0.5).fit(curve, o, fit_mean=True, bootstrap=0)
    assert fitted.kappa == pytest.approx(kappa, rel=1e-3)
    assert fitted.prior_mean == pytest.approx(mean, rel=1e-3)
    assert fitted.fit_.kl_bits == pytest.approx(0.0, abs=1e-8)


@settings(max_examples=5, deadline=None)
@given(kappa=hs.floats(0.5, 20), decay=hs.floats(0.3, 0.97), seed=hs.integers(0, 1000))
def test_recency_recovers_its_own_parameters(kappa, decay, seed):
    o = outcomes(seed)
    curve = RecencyLearner(0.3, kappa, decay).predict(o)
    fitted = RecencyLearner(0.3).fit(curve, o, bootstrap=0)
    assert fitted.kappa == pytest.approx(kappa, rel=1e-3)
    assert fitted.decay == pytest.approx(decay, rel=1e-3)


@settings(max_examples=4, deadline=None)
@given(w0=hs.floats(0.1, 0.8), noise=hs.floats(0.02, 0.3), seed=hs.integers(0, 1000))
def test_hypothesis_mixture_recovers_its_own_parameters(w0, noise, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(4, 20))
    hyp = np.stack([y, 1 - y], axis=1)
    hyp[:, 0, ::5] = 1 - hyp[:, 0, ::5]  # the semantic mapping is not always right
    weights = np.array([w0, (1 - w0) * 0.6, (1 - w0) * 0.4])
    curve = HypothesisMixtureLearner(weights, noise, 3.0).predict(y, hyp, 2)
    fitted = HypothesisMixtureLearner(np.ones(3) / 3).fit(curve, y, hyp, bootstrap=0)
    np.testing.assert_allclose(fitted.weights, weights, atol=2e-3)
    assert fitted.noise == pytest.approx(noise, abs=2e-3)


def test_bootstrap_interval_covers_the_truth_under_noise():
    o = outcomes(4, s=12)
    rng = np.random.default_rng(5)
    curve = np.clip(
        BetaBernoulliLearner(0.2, 8.0).predict(o) + rng.normal(0, 0.03, o.shape), 0.01, 0.99
    )
    fitted = BetaBernoulliLearner(0.2).fit(curve, o, bootstrap=100)
    lo, hi = fitted.fit_.ci["kappa"]
    assert lo < 8.0 < hi and lo < fitted.kappa < hi
    assert fitted.fit_.ci_unit == "sequences"
    # the reported misfit is the mean KL(observed || fitted) per position, in bits
    pred = fitted.predict(o)
    kl = curve * np.log2(curve / pred) + (1 - curve) * np.log2((1 - curve) / (1 - pred))
    assert fitted.fit_.kl_bits == pytest.approx(kl.mean(), rel=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: BetaBernoulliLearner(0.5).fit([[0.5, 0.5]], [[1, 0, 1]]), "one shape"),
        (lambda: BetaBernoulliLearner(0.5).fit([[0.5, 1.5]], [[1, 0]]), r"\[0, 1\]"),
        (lambda: BetaBernoulliLearner(0.5).fit([[0.5, np.nan]], [[1, 0]]), "finite"),
        (lambda: BetaBernoulliLearner(0.5).fit([[0.5, 0.5]], [[1, 2]]), "0/1"),
        (lambda: BetaBernoulliLearner(1.5).predict([[1, 0]]), "strictly between"),
        (
            lambda: HypothesisMixtureLearner(np.ones(3) / 3).predict([[0, 1]], [[[0, 1]]], 2),
            "H \\+ 1 weights",
        ),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(BayesmatrixError, match=message):
        call()
