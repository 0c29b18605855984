"""Exact posteriors of the wind-tunnel tasks against brute-force enumeration, numerical
integration, the Bayesian core's own conjugate updates, and Monte Carlo."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import beta as beta_dist

from bayesmatrix import BayesmatrixError, DirichletMixture
from bayesmatrix.windtunnel import (
    BijectionElimination,
    BijectionPeer,
    DirichletCategorical,
    DirichletMarkov,
    HMMFiltering,
    HMMInContext,
    make_task,
)


def test_dirichlet_predictive_is_the_conjugate_posterior_predictive():
    mix = DirichletMixture([0.3, 0.7], [[5.0, 1.0, 1.0], [0.5, 0.5, 4.0]])
    task = DirichletCategorical(mix, length=12)
    x = task.sample(20, seed=1)
    pred = task.predictive(x)
    for i in range(20):
        for t in range(12):
            counts = np.bincount(x[i, :t], minlength=3)
            np.testing.assert_allclose(pred[i, t], mix.posterior(counts).predictive(), rtol=1e-10)


def test_beta_bernoulli_predictive_by_numerical_integration():
    prior = DirichletMixture([0.5, 0.5], [[8.0, 2.0], [1.0, 3.0]])
    task = DirichletCategorical(prior, length=6)
    x = np.array([[0, 0, 1, 0, 1, 1]])
    pred = task.predictive(x)[0]

    def density(theta):  # theta = P(token 0)
        return sum(
            w * beta_dist(a[0], a[1]).pdf(theta)
            for w, a in zip(prior.weights, prior.alphas, strict=True)
        )

    for t in range(6):
        c0, c1 = int((x[0, :t] == 0).sum()), int((x[0, :t] == 1).sum())
        like = lambda th, c0=c0, c1=c1: th**c0 * (1 - th) ** c1 * density(th)  # noqa: E731
        num = quad(lambda th, like=like: th * like(th), 0, 1)[0]
        assert pred[t, 0] == pytest.approx(num / quad(like, 0, 1)[0], rel=1e-7)


def test_markov_predictive_against_monte_carlo():
    task = DirichletMarkov(vocab=2, alpha=0.7, length=4)
    x = task.sample(200_000, seed=2)
    by_prefix: dict[tuple, list[int]] = defaultdict(list)
    for row in x:
        by_prefix[tuple(row[:3])].append(row[3])
    pred = task.predictive(np.array([[*p, 0] for p in by_prefix]))
    for (prefix, nexts), p in zip(by_prefix.items(), pred, strict=True):
        freq = np.mean(np.array(nexts) == 1)
        se = np.sqrt(p[3, 1] * (1 - p[3, 1]) / len(nexts))
        assert abs(freq - p[3, 1]) < 5 * se + 1e-3, prefix


def test_markov_first_row_uniform_and_rows_normalised():
    task = DirichletMarkov(vocab=5, alpha=0.3, length=20)
    pred = task.predictive(task.sample(50, seed=3))
    np.testing.assert_allclose(pred[:, 0], 0.2)
    np.testing.assert_allclose(pred.sum(-1), 1.0)


def test_bijection_predictive_by_enumerating_bijections():
    task = BijectionElimination(keys=3)
    x = task.sample(5, seed=4)
    pred = task.predictive(x)
    perms = list(itertools.permutations(range(3)))
    orders = list(itertools.permutations(range(3)))
    for i in range(5):
        for t in range(6):
            counts = np.zeros(6)
            for order, perm in itertools.product(orders, perms):
                seq = [tok for k in order for tok in (k, 3 + perm[k])]
                if seq[:t] == list(x[i, :t]):
                    counts[seq[t]] += 1
            np.testing.assert_allclose(pred[i, t], counts / counts.sum(), rtol=1e-12)
    # the last value is forced: zero entropy there
    assert np.all(pred[:, -1].max(-1) == 1.0)


def test_bijection_peer_predictive_by_enumeration():
    """The authors' layout k1 v1 ... kL vL q pi(q) on a shared token set: every row against
    counting the (bijection, key order, query) triples consistent with the prefix."""
    task = BijectionPeer(keys=4, pairs=3)
    x = task.sample(6, seed=2)
    pred = task.predictive(x)
    worlds = []
    for perm in itertools.permutations(range(4)):
        for order in itertools.permutations(range(4), 3):
            for q in order:
                worlds.append([tok for k in order for tok in (k, perm[k])] + [q, perm[q]])
    for i in range(6):
        for t in range(task.length):
            counts = np.zeros(4)
            for seq in worlds:
                if seq[:t] == list(x[i, :t]):
                    counts[seq[t]] += 1
            np.testing.assert_allclose(pred[i, t], counts / counts.sum(), rtol=1e-12)
    # scored at the value positions: entropy log2(V - t) after t pairs
    h = -(pred[:, task.score_mask] * np.log2(np.where(pred > 0, pred, 1)[:, task.score_mask]))
    np.testing.assert_allclose(h.sum(-1), np.log2([4, 3, 2])[None].repeat(6, 0), atol=1e-12)
    assert task.loss_mask.sum() == 4 and task.loss_mask[-1] and not task.loss_mask[0]


def test_hmm_incontext_posterior_by_enumerating_hidden_paths():
    """Each query's target against summing over every hidden path with the parameters written
    in that sequence (uniform initial state), and the written parameters are valid."""
    task = HMMInContext(states=3, symbols=3, steps=4)
    x = task.sample(5, seed=1)
    trans, emit = task.parameters(x)
    assert np.allclose(trans.sum(-1), 1) and np.allclose(emit.sum(-1), 1)
    assert trans.min() >= 0.05 - 1e-12 and emit.min() >= 0.05 - 1e-12
    pred = task.predictive(x)
    states0 = 101 + task.symbols + 1
    for i in range(5):
        obs = x[i, task.header :: 2] - 101
        for t in range(task.steps):
            post = np.zeros(3)
            for path in itertools.product(range(3), repeat=t + 1):
                p = 1 / 3 * emit[i, path[0], obs[0]]
                for u in range(1, t + 1):
                    p *= trans[i, path[u - 1], path[u]] * emit[i, path[u], obs[u]]
                post[path[-1]] += p
            row = pred[i, task.header + 2 * t + 1]
            np.testing.assert_allclose(row[states0:], post / post.sum(), rtol=1e-10)
            assert row[:states0].sum() == 0
    assert task.score_mask.sum() == task.steps and (x[:, task.score_mask] == task.query).all()


def test_hmm_predictive_by_enumerating_hidden_paths():
    """P(x_t | x_<t) = P(x_<=t) / P(x_<t), each a sum over every hidden state path."""
    task = HMMFiltering(states=2, vocab=3, length=5, stay=0.7, seed=4)
    trans, emit = task.params
    np.testing.assert_allclose(trans.sum(1), 1)
    x = task.sample(6, seed=1)

    def joint(prefix):
        total = 0.0
        for path in itertools.product(range(2), repeat=len(prefix)):
            p = 0.5
            for t, (s, v) in enumerate(zip(path, prefix, strict=True)):
                p *= (trans[path[t - 1], s] if t else 1.0) * emit[s, v]
            total += p
        return total

    pred = task.predictive(x)
    for i in range(len(x)):
        for t in range(task.length):
            for v in range(3):
                want = joint([*x[i, :t], v]) / (joint(list(x[i, :t])) if t else 1.0)
                assert pred[i, t, v] == pytest.approx(want, rel=1e-10)


def test_hmm_sampler_matches_its_predictive():
    """Monte Carlo: the frequency of x_2 after a fixed prefix equals the exact row."""
    task = HMMFiltering(states=3, vocab=4, length=3, seed=2)
    x = task.sample(200_000, seed=3)
    keep = x[(x[:, 0] == 1) & (x[:, 1] == 1)]
    freq = np.bincount(keep[:, 2], minlength=4) / len(keep)
    exact = task.predictive(keep[:1])[0, 2]
    np.testing.assert_allclose(freq, exact, atol=4 / np.sqrt(len(keep)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_task("dirichlet", vocab=1), "V must be at least 2"),
        (lambda: make_task("dirichlet", alpha=-1.0), "positive"),
        (lambda: make_task("markov", alpha=0.0), "positive"),
        (lambda: make_task("lstm-task"), "unknown wind-tunnel task"),
        (lambda: make_task("hmm", states=1), ">= 2 states"),
        (lambda: make_task("hmm", stay=1.0), "stay < 1"),
        (lambda: make_task("bijection", vocab=3), "bad settings"),
        (lambda: make_task("dirichlet", length=0), "length must be positive"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(BayesmatrixError, match=message):
        call()
