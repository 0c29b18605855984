"""The coin-flip protocol (Gupta et al. 2025): the exact posterior predictive against scipy,
the one-pass readings against separate prompts on both embedded models, and the exact
Bayesian learner read through the claim's own code path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.experiments.coinflips import (
    SEPARATOR,
    STATEMENT,
    VARIANTS,
    CoinFlipResult,
    CoinPrompt,
    bernoulli_kl_bits,
    draw_flips,
    fit_kappa,
    read_flips,
    run_coin_flips,
)
from bayesmatrix.models.loading import load


def test_posterior_predictive_is_the_beta_binomial_one():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.uniform(0.1, 20, size=2)
        n = int(rng.integers(0, 40))
        h = int(rng.integers(0, n + 1))
        # P(next = heads | data) is the one-trial Beta-Binomial pmf at 1 under the posterior
        ref = stats.betabinom(1, a + h, b + n - h).pmf(1)
        assert beta_bernoulli_predictive(h, n, a, b) == pytest.approx(ref, rel=1e-12)


def test_bernoulli_kl_against_scipy():
    for p, q in [(0.3, 0.6), (0.01, 0.9), (0.5, 0.5), (0.0, 0.2), (1.0, 0.7)]:
        ref = stats.entropy([p, 1 - p], [q, 1 - q], base=2)
        assert bernoulli_kl_bits(np.array([p]), np.array([q]))[0] == pytest.approx(ref, abs=1e-12)


def test_one_pass_readings_equal_separate_prompts(embedded):
    flips = [1, 0, 0, 1, 1]
    for prompt in (CoinPrompt(), CoinPrompt(VARIANTS[3], stated=0.3)):
        frame = read_flips(embedded, prompt, flips)
        assert list(frame["heads"]) == [0, 1, 1, 1, 2, 3]
        words = ["heads" if z else "tails" for z in flips]
        for n in (0, 2, 5):
            head = STATEMENT.format(percent=30) if prompt.stated is not None else ""
            text = head + prompt.variant + "".join(f" {w}{SEPARATOR}" for w in words[:n])
            ref = embedded.next_token_probs(text, [" heads", " tails"])
            p = ref["prob"].to_numpy()
            assert frame.loc[n, "p"] == pytest.approx(p[0] / p.sum(), abs=2e-4)
            assert frame.loc[n, "mass"] == pytest.approx(p.sum(), rel=2e-3)


def test_exact_bayesian_learner_has_zero_kl_through_the_claims_code():
    lm = load("learner:bayesian?kappa=5")
    readings = run_coin_flips(lm, [0.2, 0.7], range(3), 12, variants=VARIANTS[:2])
    result = CoinFlipResult(readings, bootstrap=20)
    compared = result.compared()
    ev = compared[compared["condition"] == "evidence"]
    # its own formula: Beta(2.5, 2.5) (prior mean 0.5, kappa 5)
    np.testing.assert_allclose(ev["p"], beta_bernoulli_predictive(ev["heads"], ev["n"], 2.5, 2.5))
    assert ev["kappa"].iloc[0] == pytest.approx(5.0, rel=1e-3)
    assert ev["kl_fitted"].max() < 1e-9
    assert ev.loc[ev["n"] >= 1, "kl_uniform"].mean() > 1e-3  # kappa 5 is not the uniform prior
    statuses = [v.status for v in result.verdicts()]
    assert statuses == ["supported"] * 3


def test_kappa_fit_recovers_a_known_prior_and_reports_a_bound():
    rows = []
    for seed in range(4):
        flips = draw_flips(0.7, 20, seed)
        heads = np.concatenate([[0], np.cumsum(flips)])
        n = np.arange(21)
        rows.append(
            {"bias": 0.7, "seed": seed, "n": n, "heads": heads, "prior_mean": 0.4,
             "p": beta_bernoulli_predictive(heads, n, 12 * 0.4, 12 * 0.6)}
        )  # fmt: skip
    frame = pd.concat([pd.DataFrame(r) for r in rows], ignore_index=True)
    kappa, loss = fit_kappa(frame)
    assert kappa == pytest.approx(12, rel=1e-3) and loss < 1e-9
    constant = frame.assign(p=0.4)
    assert fit_kappa(constant)[0] == 1e4  # an ignorer: at the bound, reported as > 10^4
