"""On a CUDA GPU (skipped without one): placement and bfloat16 against float32 on the GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bayesmatrix
from bayesmatrix.bayes.information import kl

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_models_and_statistics_live_where_asked():
    lm = bayesmatrix.load("smollm2-135m", device="cuda")
    assert lm.device.type == "cuda"
    assert {p.device.type for p in lm.model.parameters()} == {"cuda"}
    trace = lm.trace("The capital of France is", top_k=3, rows="float32", hidden_layers=[-1])
    assert isinstance(trace.rows, np.ndarray) and isinstance(
        trace.hidden[lm.num_layers], np.ndarray
    )
    cpu = bayesmatrix.load("smollm2-135m", device="cpu").trace("The capital of France is", top_k=3)
    np.testing.assert_allclose(trace.logprob_next, cpu.logprob_next, atol=1e-3)


def test_bfloat16_against_float32_on_the_gpu():
    full = bayesmatrix.load("smollm2-135m", device="cuda")
    half = bayesmatrix.load("smollm2-135m", device="cuda", dtype="bfloat16")
    text = "In-context learning is Bayesian updating of a prior over rows."
    a, b = full.trace(text, rows="float32"), half.trace(text, rows="float32")
    assert kl(a.rows, b.rows).max() < (2.0**-8 * 30**0.5 * 20) ** 2 / 2
    assert (a.topk_ids[:, 0] == b.topk_ids[:, 0]).mean() >= 0.9
