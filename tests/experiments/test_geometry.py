"""The geometry of Bayesian inference: a constructed model whose states encode entropy along a
known direction; statistics against scipy and direct formulas; the LM path against separate
computations; the SULA posterior against enumeration; the claim end to end."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesmatrix.experiments.geometry import (
    SULA_ALPHA,
    GeometryResult,
    analyse_geometry,
    constructed_states,
    entropy_axis,
    lm_readout,
    probe_r2,
    project_out,
    read_states,
    spearman_ci,
    sula_labels,
    sula_prompts,
)
from bayesmatrix.models.loading import Preloaded


def test_pc1_recovers_the_entropy_direction_and_ablating_it_is_a_bottleneck():
    h, readout, _ = constructed_states(read_axis=0, big_axis=0)
    _, axes, ratio = entropy_axis(h)
    assert abs(axes[0] @ np.eye(6)[0]) > 0.999 and ratio[0] > 0.99
    p = readout(h)
    exact = -(p * np.log2(p)).sum(1)  # the exact entropy is the model's own here
    numbers, pc1, probs = analyse_geometry(h, readout, exact, bootstrap=200)
    np.testing.assert_allclose(probs, p)
    assert numbers["rho_model"] > 0.99 and numbers["probe_r2"] > 0.95  # entropy is not linear
    assert stats.spearmanr(pc1, exact).statistic > 0.99  # oriented to rise with entropy
    # the head reads exactly this axis: removing it moves every state to one distribution
    assert numbers["ablation_change_lo"] > 0.05
    result = GeometryResult("constructed", "windtunnel", None, numbers)
    assert [v.status for v in result.verdicts()] == ["supported", "not supported"]


def test_a_direction_that_carries_no_information_changes_nothing():
    h, readout, _ = constructed_states(read_axis=0, big_axis=0)
    untouched = project_out(h, h.mean(0), np.eye(6)[3])
    np.testing.assert_allclose(readout(untouched), readout(h), atol=1e-15)
    p = readout(h)
    numbers, _, _ = analyse_geometry(h, readout, -(p * np.log2(p)).sum(1), bootstrap=50)
    assert abs(numbers["control_change"]) < 1e-3  # random directions among PCs 2..10


def test_a_decodable_axis_the_head_does_not_read_is_a_readout():
    """The largest-variance axis (e1) tracks entropy, but the head reads e0 only: PC1 is
    decodable and projecting it out leaves the distributions (and the Bayesian error) alone."""
    h, readout, _ = constructed_states(read_axis=0, big_axis=1)
    p = readout(h)
    numbers, _, _ = analyse_geometry(h, readout, -(p * np.log2(p)).sum(1), bootstrap=200)
    assert numbers["rho_model"] > 0.99
    assert abs(numbers["ablation_change"]) < 0.01
    result = GeometryResult("constructed", "windtunnel", None, numbers)
    assert [v.status for v in result.verdicts()] == ["supported", "supported"]


def test_statistics_against_scipy_and_direct_formulas():
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    rho, lo, hi = spearman_ci(x, y, bootstrap=300)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic) and lo < rho < hi
    h = rng.normal(size=(300, 5))
    assert probe_r2(h, h @ np.arange(1, 6) + 2.0) > 0.999
    assert probe_r2(h, rng.normal(size=300)) < 0.05
    u = np.array([3.0, 4, 0, 0, 0])
    out = project_out(h, h.mean(0), u)
    np.testing.assert_allclose((out - h.mean(0)) @ (u / 5), 0, atol=1e-12)


def test_sula_posterior_against_enumeration():
    prompts = sula_prompts(("aa", "bb"), ks=(0, 3, 5), per_k=6, seed=3)
    for row in prompts.itertuples():
        shown = [1] * row.shown_ones + [0] * (row.k - row.shown_ones)
        joint = {}
        for latent in (0, 1):  # enumerate the latent label; each shown label is independent
            like = 0.5
            for y in shown:
                like *= SULA_ALPHA if y == latent else 1 - SULA_ALPHA
            joint[latent] = like
        assert row.bayes_p1 == pytest.approx(joint[1] / (joint[0] + joint[1]), rel=1e-12)
        demos = row.text.count(": aa") + row.text.count(": bb")
        assert demos == row.k and row.text.endswith(":")
    assert prompts["k"].nunique() == 3


@pytest.mark.slow
def test_lm_states_and_readout_against_a_separate_trace(smollm2):
    labels = sula_labels(smollm2)
    assert all(len(smollm2.encode(" " + w)) == 1 for w in labels)
    texts = ["sunny: " + labels[0] + ". calm:", "cold:"]
    sources = [smollm2.with_bos(smollm2.encode(t)) for t in texts]
    states = read_states(smollm2, sources, [[len(s) - 1] for s in sources])
    ids = [smollm2.encode(" " + w)[0] for w in labels]
    got = lm_readout(smollm2, ids)(states)
    for i, text in enumerate(texts):
        probs = smollm2.next_token_probs(text, [" " + w for w in labels])
        np.testing.assert_allclose(got[i], probs["prob_renormalised"], atol=1e-5)


@pytest.mark.slow
def test_claim_runs_and_reloads(smollm2, tmp_path):
    from bayesmatrix.claims import get_claim, run_claim, verdicts_of

    claim = get_claim("geometry")
    settings = claim.configure("full", per_k=8, bootstrap=50)
    (result,) = run_claim(claim, ["smollm2-135m"], settings, tmp_path, Preloaded(smollm2))
    assert len(result.frame) == 5 * 8 and len(verdicts_of([result])) == 2
    again = GeometryResult.load(tmp_path / "smollm2-135m")
    assert [str(v) for v in again.verdicts()] == [str(v) for v in result.verdicts()]
    (figure,) = claim.draw([again], ["smollm2-135m"], "full", settings)
    assert figure.command == (
        "bayesmatrix run geometry --model smollm2-135m --profile full -s per_k=8 -s bootstrap=50"
    )
