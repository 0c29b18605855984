"""Helpers of the embedding/entropy claims against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from sklearn.metrics import roc_auc_score

from bayesmatrix import BayesmatrixError
from bayesmatrix.bayes.stats import auroc, wilson_interval
from bayesmatrix.data.qa import load_facts, load_problems
from bayesmatrix.experiments.cot import CotResult
from bayesmatrix.experiments.entropy import entropy_bits, majorizes
from bayesmatrix.experiments.hallucination import HallucinationResult

simplex = (
    hs.integers(2, 6)
    .flatmap(lambda n: hs.tuples(*[hs.lists(hs.floats(0, 1), min_size=n, max_size=n)] * 2))
    .filter(lambda pq: sum(pq[0]) > 0 and sum(pq[1]) > 0)
)


def brute_majorizes(p, q):
    """For every k: the largest sum of any k entries of p is >= that of q (no sorting)."""
    n = len(p)
    for k in range(1, n + 1):
        best_p = max(sum(c) for c in itertools.combinations(p, k))
        best_q = max(sum(c) for c in itertools.combinations(q, k))
        if best_p < best_q - 1e-9:
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(pq=simplex)
def test_majorization_matches_brute_force(pq):
    p = np.array(pq[0]) / sum(pq[0])
    q = np.array(pq[1]) / sum(pq[1])
    assert majorizes(p, q, tol=1e-9) == brute_majorizes(p, q)
    if majorizes(p, q, tol=1e-9):
        assert entropy_bits(p) <= entropy_bits(q) + 1e-9  # Schur concavity of entropy


def test_majorization_needs_equal_totals():
    with pytest.raises(BayesmatrixError, match="equal totals"):
        majorizes(np.array([0.5, 0.5]), np.array([0.5, 0.6]))


def test_entropy_bits_matches_scipy():
    p = np.random.default_rng(0).dirichlet(np.ones(50), size=4)
    np.testing.assert_allclose(entropy_bits(p), st.entropy(p, base=2, axis=1))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 120)])
def test_wilson_interval_matches_scipy(k, n):
    ref = st.binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(seed=hs.integers(0, 10**6), n=hs.integers(4, 40))
def test_auroc_matches_sklearn_with_ties(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(bool)
    if y.all() or not y.any():
        y[0] = not y[0]
    s = rng.integers(0, 5, n).astype(float)  # many ties
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auroc_needs_both_classes():
    with pytest.raises(BayesmatrixError, match="both right and wrong"):
        auroc(np.array([0.1, 0.2]), np.array([True, True]))


def test_continuity_metric_helpers():
    from bayesmatrix.experiments.continuity import kl, tv

    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(30), size=2)
    assert kl(p, q) == pytest.approx(st.entropy(p, q))
    assert tv(p, q) == pytest.approx(0.5 * np.abs(p - q).sum())
    assert kl(p, p) == pytest.approx(0.0, abs=1e-15)


def test_hallucination_verdict_goes_both_ways():
    rng = np.random.default_rng(2)
    correct = rng.random(80) < 0.5

    def frame(entropy):
        return pd.DataFrame(
            {
                "question": range(80),
                "with_context": False,
                "correct": correct,
                "entropy_bits": entropy,
                "top1_prob": 1 / (1 + entropy),
            }
        )

    informative = HallucinationResult(
        "m", frame(np.where(correct, 1.0, 3.0) + rng.normal(0, 0.5, 80))
    )
    assert informative.verdicts()[0].status == "supported"
    reversed_ = HallucinationResult(
        "m", frame(np.where(correct, 3.0, 1.0) + rng.normal(0, 0.5, 80))
    )
    assert reversed_.verdicts()[0].status == "not supported"


def test_cot_verdict_goes_both_ways():
    def frame(delta):
        rows = []
        for i in range(30):
            for with_steps in (False, True):
                rows.append(
                    {
                        "question": i,
                        "with_steps": with_steps,
                        "correct": with_steps,
                        "entropy_bits": 3.0 + (delta if with_steps else 0.0) + 0.1 * (i % 3),
                        "logprob_answer": -2.0 - (delta if with_steps else 0.0),
                    }
                )
        return pd.DataFrame(rows)

    assert CotResult("m", frame(-1.0)).verdicts()[0].status == "supported"
    assert CotResult("m", frame(+1.0)).verdicts()[0].status == "not supported"


def test_shipped_question_sets_and_bad_files(tmp_path):
    facts, problems = load_facts(), load_problems()
    assert len(facts) >= 100 and len(problems) >= 40
    assert all(f.answer.lower() in f.context.lower() for f in facts)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "a", "context": "c"}\n{"question": "q2"}\n')
    with pytest.raises(BayesmatrixError, match=r"bad\.jsonl, line 2: missing or empty"):
        load_facts(bad)
    bad.write_text('{"question": "q", "steps": "s", "answer": ""}\n')
    with pytest.raises(BayesmatrixError, match="line 1: missing or empty \\['answer'\\]"):
        load_problems(bad)
