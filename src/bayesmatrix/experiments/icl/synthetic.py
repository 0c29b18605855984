"""ICL readings made by learners whose nature is known: the Beta-Bernoulli learner (Bayesian
by construction) and forgetting ones. The ICL claims' examples and tests run their analyses
on these, so a verdict rule can be seen to come out either way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def synthetic_cells(
    learner: str,
    model: str = "m",
    params: int = 1,
    kappa: float = 6.0,
    decay: float = 0.4,
    conditions: Sequence[str] = ("flipped:0.25", "flip-half"),
    seeds: int = 8,
    t: int = 24,
    noise: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """Sweep cells whose P(true label) curve is a learner's prediction with Gaussian noise of
    SD `noise` on its logit (as an LM's readings scatter about any learner): 'beta-bernoulli',
    or 'recency' (forgetting with `decay`), with per-input priors spread about 0.7. Conditions
    as the sweep's: regular, flipped (every label flipped), flipped:P (a fraction P flipped
    at random), flip-half (true labels, then flipped from halfway)."""
    from scipy.special import expit, logit

    from bayesmatrix.bayes.updating import predictive

    rng = np.random.default_rng(seed)
    frames = []
    for condition in conditions:
        prior = expit(logit(0.7) + 0.8 * rng.standard_normal((seeds, t)))
        agree = np.ones((seeds, t))
        name, _, fraction = condition.partition(":")
        if condition == "flip-half":
            agree[:, t // 2 :] = 0
        elif name == "flipped":
            share = float(fraction) if fraction else 1.0
            for s in range(seeds):
                agree[s, rng.permutation(t)[: round(share * t)]] = 0
        q = predictive(prior, agree, kappa, decay if learner == "recency" else 1.0)
        q = expit(logit(q) + noise * rng.standard_normal(q.shape))
        tag = condition.replace(":", "-") if ":" in condition else condition
        frames.append(_cells(model, params, tag, q, prior, agree, rng))
    return pd.concat(frames, ignore_index=True)


def _cells(
    model: str,
    params: int,
    condition: str,
    q: np.ndarray,
    prior: np.ndarray,
    agree: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The sweep's cell rows of readings q [seeds, t] (binary labels)."""
    seeds, t = q.shape
    true_idx = rng.integers(0, 2, size=(seeds, t))
    shown_idx = np.where(agree == 1, true_idx, 1 - true_idx)
    probs = np.where(true_idx[..., None] == np.arange(2), q[..., None], 1 - q[..., None])
    rows = [
        {"model": model, "model_params": params, "task": "synthetic", "condition": condition,
         "seed": s, "k": k, "p_true": q[s, k], "probs": probs[s, k], "agree": bool(agree[s, k]),
         "zero_shot_p_true": prior[s, k], "true_index": true_idx[s, k],
         "shown_index": shown_idx[s, k], "label_mass": 0.9}
        for s in range(seeds)
        for k in range(t)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def count_learner(
    decay: float, prior: float = 1.0
) -> Callable[[Sequence[tuple[str, str]]], np.ndarray]:
    """Predictive of label 'a' from (exponentially forgotten) counts of the shown labels 'a'
    and 'b'; decay 1 is the exact Beta(prior, prior)-Bernoulli learner."""

    def predict(demos: Sequence[tuple[str, str]]) -> np.ndarray:
        out, a, w = [], 0.0, 0.0
        for _, y in demos:
            p = (prior + a) / (2 * prior + w)
            out.append([p, 1 - p])
            a, w = decay * a + (y == "a"), decay * w + 1
        return np.array(out)

    return predict


def synthetic_orderings(
    decay: float,
    seeds: int = 6,
    orderings: int = 8,
    ns: Sequence[int] = (4, 8, 16, 32),
) -> pd.DataFrame:
    """Order-effect readings of a count learner (see count_learner) on 32 demonstrations
    with 70% 'a' labels per seed, as the icl-order claim reads an LM."""
    from bayesmatrix.experiments.icl.order import ordering_readings

    frames = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        demos = [(f"x{i}", "a" if rng.random() < 0.7 else "b") for i in range(max(ns))]
        frame = ordering_readings(
            count_learner(decay), ("a", "b"), demos, ("q", "a"), ns, orderings, seed
        )
        frames.append(frame.assign(model="m", task="t", condition="regular", seed=seed))
    return pd.concat(frames, ignore_index=True)
