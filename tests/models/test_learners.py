"""Learners by construction (models.learners) reproduce their own formula exactly through
the claims' readers: the ICL prequential pass, the martingale one-step check and the
sampled coin-flip paths."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmatrix.errors import ModelNotFoundError
from bayesmatrix.experiments.icl.paths import BetaBernoulliSampler, LMSampler, sample_paths
from bayesmatrix.experiments.icl.sweep import Condition, read_task
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models.loading import load
from bayesmatrix.models.reference import backend_for, missing_capabilities, model_identity

SENTIMENT = get_task("sentiment")


def test_references_are_checked_and_routed():
    for bad, why in [
        ("learner:oracle", "unknown learner"),
        ("learner:bayesian?alpha=2", "is unknown; they are"),
        ("learner:bayesian?kappa=-1", r"kappa must lie in \(0"),
        ("learner:recency?window=zero", "not a int"),
        ("learner:ignorer?prior=1.5", "strictly between"),
        ("learner:bayesian?kappa", "key=value"),
        ("learner:bayesian?&&&", "key=value"),
        ("learner:bayesian?kappa=1&kappa=50", "given twice"),
        ("learner:discount?decay=1.5", "decay must lie"),
        ("learner:bayesian?noise=nan", "finite"),
    ]:
        with pytest.raises(ModelNotFoundError, match=why):
            model_identity(bad)
    assert backend_for("learner:bayesian").name == "learner"
    assert missing_capabilities("learner:bayesian", frozenset({"hidden_states"})) == [
        "hidden_states"
    ]
    assert model_identity("learner:bayesian?kappa=3") != model_identity("learner:bayesian")


@pytest.mark.parametrize("fmt", ["instructed", "plain"])
@pytest.mark.parametrize("kind", ["bayesian", "recency", "ignorer"])
def test_icl_readings_follow_the_formula(kind, fmt):
    kappa, prior, window = 3.0, 0.6, 2
    lm = load(f"learner:{kind}?kappa={kappa}&prior={prior}&window={window}")
    task = SENTIMENT.formatted(fmt)
    rng = np.random.default_rng(4)
    true = [y for _, y in task.examples[:12]]
    shown = Condition("flipped", flip_fraction=0.4).shown_labels(task, true, rng)
    demos = [(x, y) for (x, _), y in zip(task.examples[:12], shown, strict=True)]
    frame = read_task(lm, task, demos, task.label_words)
    agree = [int(a == b) for a, b in zip(true, shown, strict=True)]
    for k in range(12):
        seen = agree[:k] if kind == "bayesian" else agree[max(0, k - window) : k]
        seen = [] if kind == "ignorer" else seen
        q = (kappa * prior + sum(seen)) / (kappa + len(seen))
        # p of the label shown at k: q when it is the true one, 1 - q when flipped
        want = q if agree[k] else 1 - q
        assert frame.loc[k, f"p_{shown[k]}"] == pytest.approx(want, abs=1e-12)
    assert np.allclose(frame["label_mass"], 1.0)


def test_stream_is_the_beta_bernoulli_sampler():
    observed = [1, 0, 1, 1, 0, 1]
    lm = load("learner:bayesian")
    mine, _ = sample_paths(LMSampler(lm), observed, paths=16, horizon=10, seed=3)
    ref, _ = sample_paths(BetaBernoulliSampler(), observed, paths=16, horizon=10, seed=3)
    np.testing.assert_allclose(mine, ref, atol=1e-12)
