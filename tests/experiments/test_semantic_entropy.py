"""Semantic entropy and the other hallucination signals: estimators on constructed answer sets
against hand computation, risk-coverage against brute force, AUROC against scikit-learn, the
sampler against separate forward passes, and the verdict both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from bayesmatrix.data.qa import load_facts, qa_prompt
from bayesmatrix.experiments.semantic_entropy import (
    SIGNALS,
    SemanticEntropyResult,
    clusters,
    is_correct,
    naive_entropy,
    normalise,
    risk_coverage,
    run_semantic_entropy,
    semantic_entropy,
)


def test_normalised_answers_and_correctness():
    assert normalise(" The Paris.\nMore text") == "paris"
    assert normalise("Paris, France. It is big.") == "paris france"
    assert normalise("3.14 is pi") == "314 is pi"  # a decimal point does not end a sentence
    assert is_correct(" The answer is: Paris", "Paris")
    assert not is_correct("Parisian food", "Paris")  # whole words only
    assert is_correct("New York City", "new york") and not is_correct("", "Paris")


def test_semantic_entropy_equals_hand_computation():
    answers = ["Paris", "paris.", "The Paris", "London", " Rome"]
    ids = clusters(answers)
    assert ids.tolist() == [0, 0, 0, 1, 2]
    expected = -(0.6 * np.log(0.6) + 2 * 0.2 * np.log(0.2))
    assert semantic_entropy(ids) == pytest.approx(expected, abs=1e-12)
    # weighted: cluster mass = sum of the samples' probabilities, renormalised
    logp = np.log([0.2, 0.1, 0.1, 0.05, 0.05])
    p = np.array([0.4, 0.05, 0.05]) / 0.5
    assert semantic_entropy(ids, logp) == pytest.approx(-(p * np.log(p)).sum(), abs=1e-12)
    assert semantic_entropy(clusters(["a", "A.", "the a"])) == 0.0
    runs = [np.log([0.5, 0.25]), np.log([1.0])]
    assert naive_entropy(runs) == pytest.approx(-(np.log([0.5, 0.25]).mean() + 0.0) / 2)


def test_risk_coverage_against_brute_force():
    rng = np.random.default_rng(3)
    conf, right = rng.normal(size=40), rng.random(40) < 0.6
    risk, area = risk_coverage(conf, right)
    order = sorted(range(40), key=lambda i: -conf[i])
    brute = [1 - np.mean([right[i] for i in order[: k + 1]]) for k in range(40)]
    np.testing.assert_allclose(risk, brute, atol=1e-12)
    assert area == pytest.approx(np.mean(brute))
    perfect = risk_coverage(right.astype(float), right)[1]  # right answers first
    assert perfect < area and risk[-1] == pytest.approx(1 - right.mean())


def constructed(seed: int, row_noise: float) -> SemanticEntropyResult:
    """Questions whose semantic entropy separates right from wrong answers; the single-pass
    signals are it plus noise of the given size."""
    rng = np.random.default_rng(seed)
    n = 120
    correct = rng.random(n) < 0.5
    se = np.where(correct, 0.3, 1.5) + rng.normal(0, 0.3, n)
    frame = pd.DataFrame(
        {
            "with_context": False,
            "correct": correct,
            "semantic_entropy": se,
            "naive_entropy": se + rng.normal(0, 0.3, n),
            "row_entropy": se + rng.normal(0, row_noise, n),
            "top1_prob": -se + rng.normal(0, row_noise, n),
            "sampled_passes": 9,
        }
    )
    return SemanticEntropyResult("m", frame)


def test_auroc_against_scikit_learn_and_the_verdict_both_ways():
    close = constructed(0, 0.05)
    s = close.summary(n_boot=300).set_index("signal")
    for signal, sign in SIGNALS.items():
        y = close.frame["correct"].to_numpy()
        expected = roc_auc_score(y, sign * close.frame[signal].to_numpy())
        assert s.loc[signal, "auroc"] == pytest.approx(expected, abs=1e-12)
    assert (
        s.loc["row_entropy", "forward_passes"] == 1
        and s.loc["semantic_entropy", "forward_passes"] == 9
    )
    assert [v.status for v in close.verdicts()] == ["supported"]
    far = constructed(0, 3.0)  # the single-pass signal is mostly noise
    (verdict,) = far.verdicts()
    assert verdict.status == "not supported", verdict.evidence


@pytest.mark.slow
def test_sampler_follows_separate_forward_passes(smollm2):
    prompt = qa_prompt("What is the capital of France?")
    (greedy,) = smollm2.sample(prompt, 1, 6, temperature=0.0)
    ids, _ = smollm2.tokenize(prompt)
    eos = smollm2.tokenizer.eos_token_id
    with torch.no_grad():
        for step, token in enumerate(greedy.tokens):
            logits = smollm2.model(torch.tensor([ids + greedy.tokens[:step]])).logits[0, -1]
            if step == 0 or not smollm2.tokenizer.decode(greedy.tokens[:step]).strip():
                logits[eos] = float("-inf")  # masked until the answer has content
            logp = torch.log_softmax(logits.double(), -1)
            assert int(logp.argmax()) == token
            assert greedy.logprobs[step] == pytest.approx(float(logp[token]), abs=1e-4)
    again = smollm2.sample(prompt, 4, 6, seed=5)
    assert [s.tokens for s in again] == [s.tokens for s in smollm2.sample(prompt, 4, 6, seed=5)]
    assert [s.tokens for s in again] != [s.tokens for s in smollm2.sample(prompt, 4, 6, seed=6)]
    assert 0 < greedy.content_row_top1 <= 1 and greedy.content_row_entropy > 0


@pytest.mark.slow
def test_run_on_real_questions(smollm2):
    facts = load_facts(None)[:6]
    result = run_semantic_entropy(smollm2, facts, samples=3, max_new_tokens=6)
    frame = result.frame
    assert len(frame) == 12 and set(frame["with_context"]) == {False, True}
    assert (frame["clusters"] >= 1).all() and (frame["clusters"] <= 3).all()
    assert np.all(frame["semantic_entropy"] <= np.log(3) + 1e-12)
    for row in frame.itertuples():
        assert row.correct == is_correct(row.greedy, row.answer)
        assert row.semantic_entropy == pytest.approx(semantic_entropy(clusters(row.samples)))
