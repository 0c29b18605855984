"""Devices and dtypes: bfloat16 weights against float32 on this CPU, within a tolerance derived
from bfloat16's rounding; statistics are float32 whatever the weights; placement options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import bayesmatrix
from bayesmatrix import BayesmatrixError
from bayesmatrix.bayes.information import kl
from bayesmatrix.data import stdlib_docs
from bayesmatrix.models.loading import Loader

# bfloat16 keeps 8 significant bits: unit roundoff u = 2^-8. Every layer rounds its weights
# and activations once, so a logit z carries an error of about u * sqrt(L) * |z| after L
# layers (independent roundings add in quadrature). With logits up to Z_MAX in size, the rows
# differ to first order by KL(p32 || p16) = Var_p(dz) / 2 <= (u sqrt(L) Z_MAX)^2 / 2, and the
# argmax can only change where the float32 top-1 logit leads the top-2 by less than twice the
# error bound.
U = 2.0**-8
Z_MAX = 20.0


@pytest.fixture(scope="module")
def pair(smollm2):
    half = bayesmatrix.load("smollm2-135m", dtype="bfloat16")
    ids = smollm2.tokenize(stdlib_docs(max_chars=2000))[0][:64]
    return smollm2, half, ids


@pytest.mark.slow
def test_bfloat16_rows_agree_with_float32_within_the_rounding_bound(pair):
    full, half, ids = pair
    assert half.dtype == torch.bfloat16 and full.dtype == torch.float32
    a = full.trace(ids, top_k=2, rows="float32")
    b = half.trace(ids, top_k=2, rows="float32")
    bound = U * math.sqrt(half.num_layers) * Z_MAX
    divergence = kl(a.rows, b.rows)
    assert divergence.max() <= bound**2 / 2, (divergence.max(), bound**2 / 2)
    with torch.no_grad():
        z = full.to_logits(full.forward_hidden([ids])[0][0]).float()
    top2 = torch.topk(z, 2, dim=-1).values
    clear = (top2[:, 0] - top2[:, 1] > 2 * bound).numpy()
    assert clear.sum() >= 10  # the check below is not empty
    assert np.array_equal(a.topk_ids[clear, 0], b.topk_ids[clear, 0])
    # and bfloat16 is not float32: the readings do differ
    assert divergence.mean() > 0


@pytest.mark.slow
def test_statistics_are_float32_whatever_the_weights(pair):
    """The trace's entropy and log-probs equal float32 statistics of the bfloat16 logits (to
    float32 rounding), not bfloat16 ones (which differ by about u)."""
    _, half, ids = pair
    trace = half.trace(ids, top_k=3)
    with torch.no_grad():
        z16 = half.to_logits(half.forward_hidden([ids])[0][0])
    assert z16.dtype == torch.bfloat16
    logp = torch.log_softmax(z16.float(), -1).double()
    entropy = -(logp.exp() * logp).sum(-1).numpy()
    np.testing.assert_allclose(trace.entropy, entropy, rtol=0, atol=1e-4)
    nxt = logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()
    np.testing.assert_allclose(trace.logprob_next[:-1], nxt, rtol=0, atol=1e-4)
    assert trace.topk_probs.dtype == np.float32
    in_bf16 = torch.log_softmax(z16, -1).float().double()
    bf16_entropy = -(in_bf16.exp() * in_bf16).sum(-1).numpy()
    assert np.abs(bf16_entropy - entropy).max() > 1e-3  # bf16 statistics would be visibly off


def test_device_map_auto_places_every_weight_and_reads_the_same_rows(smollm2):
    spread = bayesmatrix.load("smollm2-135m", device_map="auto")
    assert {p.device.type for p in spread.model.parameters()} == {"cpu"}  # all this CPU has
    a, b = smollm2.trace("Device maps", top_k=3), spread.trace("Device maps", top_k=3)
    np.testing.assert_allclose(a.logprob_next, b.logprob_next, atol=1e-6)


def test_placement_errors_and_identity():
    with pytest.raises(BayesmatrixError, match="no usable CUDA GPU"):
        Loader(device="cuda").check()
    with pytest.raises(BayesmatrixError, match="unknown dtype"):
        Loader(dtype="float64").check()
    with pytest.raises(BayesmatrixError, match="device_map"):
        Loader(device_map="balanced").check()
    assert Loader().check().device == "auto"
    # a bfloat16 result is another result than a float32 one; the device is not an input
    full, half = (
        Loader().identity("smollm2-135m"),
        Loader(dtype="bfloat16").identity("smollm2-135m"),
    )
    assert half == full + "|bfloat16"
    assert Loader(device="cpu").identity("smollm2-135m") == full
