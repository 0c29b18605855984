"""The coin-flip protocol (Gupta et al. 2025): the exact posterior predictive against scipy,
the one-pass readings against separate prompts on both embedded models, the exact Bayesian
learner and a forgetting one read through the claim's own code path, and the low-mass rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.experiments.coinflips import (
    MIN_MASS,
    SEPARATOR,
    CoinFlipResult,
    CoinPrompt,
    bernoulli_kl_bits,
    phrasings,
    read_flips,
    run_coin_flips,
    sequences,
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
    texts, statement = phrasings()
    for prompt in (CoinPrompt(texts[0]), CoinPrompt(texts[3], stated=0.3)):
        frame = read_flips(embedded, prompt, flips)
        assert list(frame["heads"]) == [0, 1, 1, 1, 2, 3]
        words = ["heads" if z else "tails" for z in flips]
        for n in (0, 2, 5):
            head = statement.format(percent=30) if prompt.stated is not None else ""
            text = head + prompt.variant + "".join(f" {w}{SEPARATOR}" for w in words[:n])
            ref = embedded.next_token_probs(text, [" heads", " tails"])
            p = ref["prob"].to_numpy()
            assert frame.loc[n, "p"] == pytest.approx(p[0] / p.sum(), abs=2e-4)
            assert frame.loc[n, "mass"] == pytest.approx(p.sum(), rel=2e-3)


def test_exact_bayesian_learner_has_zero_kl_through_the_claims_code():
    lm = load("learner:bayesian?kappa=5")
    readings = run_coin_flips(lm, [0.2, 0.7], range(3), 12, 2, [0.75, 0.25], [0.2, 0.8])
    assert set(readings["condition"]) == {"prior", "evidence", "chain", "conflict"}
    assert (readings["condition"] == "prior").sum() == 50  # every phrasing of Gupta et al.
    result = CoinFlipResult(readings, bootstrap=20)
    compared = result.compared(lm.name)
    # its own formula: Beta(2.5, 2.5) (prior mean 0.5, kappa 5)
    want = beta_bernoulli_predictive(compared["heads"], compared["n"], 2.5, 2.5)
    np.testing.assert_allclose(compared["p"], want, rtol=1e-9)
    assert result.fit(lm.name).kappa == pytest.approx(5.0, rel=1e-3)
    assert compared["kl_fitted"].max() < 1e-9
    assert compared.loc[compared["n"] >= 1, "kl_uniform"].mean() > 1e-3  # kappa 5, not 2
    assert [v.status for v in result.verdicts()] == ["supported"] * 3


def test_a_forgetting_learner_and_a_follower_of_statements_are_not_supported():
    from bayesmatrix.claims import get_claim

    bayes, forgets = get_claim("coin-flips").examples()
    assert [v.status for v in bayes.verdicts()] == ["supported"] * 3
    assert [v.status for v in forgets.verdicts()] == ["not supported"] * 3
    rules = [v.rule for v in forgets.verdicts()]
    assert rules == ["coin-flips.prior", "coin-flips.evidence", "coin-flips.updating"]


def test_positions_where_the_outcome_words_carry_little_mass_are_left_out_and_counted():
    """A reading whose heads/tails mass is under MIN_MASS is the prompt's artefact: it is
    left out of the phrasing average (NaN when every phrasing falls under), and counted."""
    rows = []
    for v, mass in enumerate((0.9, 0.05)):
        for n in range(3):
            rows.append({"model": "m", "condition": "evidence", "variant": v, "bias": 0.5,
                         "after": np.nan, "stated": np.nan, "seed": 0, "n": n, "heads": n,
                         "p": 0.6 if v == 0 else 0.1, "mass": mass if n else 0.9})  # fmt: skip
    seqs = sequences(pd.DataFrame(rows))
    assert MIN_MASS == 0.1
    both = 1 / (1 + np.sqrt(6))  # n = 0: odds 1.5 and 1/9 averaged on the log scale
    np.testing.assert_allclose(seqs["p"], [both, 0.6, 0.6])
    assert seqs["kept"].tolist() == [2, 1, 1]
