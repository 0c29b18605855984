"""Trace numbers against independent computations: a separate forward pass per prefix through
the model's own forward (HF head, HF soft-capping), scipy's entropy, and batch-vs-single."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from bayesmatrix import BayesmatrixError
from tests.float_noise import tolerance

PROMPT = "The capital of France is Paris. The capital of Italy is"


def prefix_logprobs(lm, ids: list[int]) -> np.ndarray:
    """log-softmax of the model's own logits at the end of each prefix, one forward each."""
    rows = []
    with torch.no_grad():
        for end in range(1, len(ids) + 1):
            logits = lm.model(torch.tensor([ids[:end]])).logits[0, -1].double()
            rows.append(torch.log_softmax(logits, -1).numpy())
    return np.stack(rows)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["rows", "vocabulary slices"])
def test_trace_equals_separate_forward_per_prefix(embedded, path, monkeypatch):
    """Both ways of reducing rows: whole rows (rows requested) and vocabulary slices combined
    by log-sum-exp (statistics only; slices of 1000 columns, the last one shorter)."""
    import bayesmatrix.models.stats as stats

    n = len(embedded.encode(PROMPT)) + int(embedded.adds_bos)
    monkeypatch.setattr(stats, "COLUMN_BYTES", 4 * 1000 * n)
    trace = embedded.trace(PROMPT, top_k=7, rows="float32" if path == "rows" else False)
    ids = trace.token_ids.tolist()
    ref = prefix_logprobs(embedded, ids)
    # the per-prefix passes and the full-sequence pass differ only in float32 rounding
    tol = tolerance(embedded, [ids])
    expected_next = ref[np.arange(len(ids) - 1), ids[1:]]
    np.testing.assert_allclose(trace.logprob_next[:-1], expected_next, rtol=0, atol=tol)
    assert np.isnan(trace.logprob_next[-1])
    if path == "rows":
        np.testing.assert_allclose(trace.rows, np.exp(ref), rtol=0, atol=tol)
        np.testing.assert_allclose(trace.rows.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert trace.rows is None and embedded.vocab_size % 1000
    scipy_entropy = scipy.stats.entropy(np.exp(ref), axis=1)
    # |dH| <= sum_i p_i |d log p_i| (1 + |log p_i|) <= tol * (1 + H) to first order
    np.testing.assert_allclose(
        trace.entropy, scipy_entropy, rtol=0, atol=tol * (1 + scipy_entropy.max())
    )
    expected_top = np.argsort(-ref, axis=1)[:, :7]
    np.testing.assert_allclose(
        trace.topk_probs, np.exp(np.take_along_axis(ref, expected_top, 1)), rtol=0, atol=tol
    )
    # ids may only differ where probabilities tie to float32 precision
    same = trace.topk_ids == expected_top
    assert same[:, 0].all()
    assert same.mean() > 0.95


@pytest.mark.slow
def test_bos_convention(smollm2, gemma3):
    assert gemma3.trace("Hello").bos_added and gemma3.trace("Hello").token_ids[0] == gemma3.bos_id
    assert not smollm2.trace("Hello").bos_added
    forced = smollm2.trace("Hello", add_bos=True)
    assert forced.bos_added and forced.token_ids[0] == smollm2.bos_id
    assert len(forced) == len(smollm2.trace("Hello")) + 1
    # windows cut from a text start like the model was trained: Gemma's with its BOS
    assert gemma3.with_bos([5, 6]) == [gemma3.bos_id, 5, 6]
    assert gemma3.with_bos([gemma3.bos_id, 5]) == [gemma3.bos_id, 5]
    assert smollm2.with_bos([5, 6]) == [5, 6]


@pytest.mark.slow
def test_batched_traces_equal_single_traces(embedded):
    texts = [
        "One two three four five six seven.",
        "Hi",
        "A somewhat longer sentence, with commas, that pads the others in the batch.",
        "Paris",
    ]
    batched = embedded.trace_many(texts, batch_size=4, top_k=3)
    singles = [embedded.trace(text, top_k=3) for text in texts]
    # float32 matmuls block differently with padding: the two readings differ by rounding only
    tol = tolerance(embedded, [s.token_ids.tolist() for s in singles])
    for b, single in zip(batched, singles, strict=True):
        np.testing.assert_array_equal(b.token_ids, single.token_ids)
        np.testing.assert_allclose(
            np.exp(b.logprob_next), np.exp(single.logprob_next), rtol=0, atol=tol
        )
        np.testing.assert_allclose(b.logprob_next, single.logprob_next, rtol=0, atol=tol)
        np.testing.assert_allclose(
            b.entropy, single.entropy, rtol=0, atol=tol * (1 + single.entropy.max())
        )
        np.testing.assert_allclose(b.topk_probs, single.topk_probs, rtol=0, atol=tol)


@pytest.mark.slow
def test_score_equals_sum_of_traced_logprobs(embedded):
    context, continuation = "The capital of France is", " Paris, a city on the Seine"
    ids, split = embedded.split_continuation(context, continuation)
    trace = embedded.trace(ids)
    expected = trace.logprob_next[split - 1 : len(ids) - 1].sum()
    assert embedded.score(context, continuation) == pytest.approx(expected, abs=1e-4)
    # the continuation tokens decode back to the continuation text
    assert embedded.tokenizer.decode(ids[split:]) == continuation


def test_score_moves_trailing_space_into_continuation(tiny):
    assert tiny.score("The capital is ", "Paris") == pytest.approx(
        tiny.score("The capital is", " Paris"), abs=1e-6
    )


def test_next_token_probs_match_scores(tiny):
    candidates = [" Paris", " London", " New York"]
    frame = tiny.next_token_probs("The capital of France is", candidates)
    for cand, logp in zip(candidates, frame["logprob"], strict=True):
        assert logp == pytest.approx(tiny.score("The capital of France is", cand), abs=1e-6)
    assert frame["prob_renormalised"].sum() == pytest.approx(1.0)
    assert frame.loc[2, "n_tokens"] >= 2


def test_chunked_statistics_equal_one_chunk(tiny, monkeypatch):
    import bayesmatrix.models.stats as stats

    text = "one two three four five six seven eight nine ten eleven twelve"
    whole = tiny.trace(text, top_k=4, rows="float32")
    monkeypatch.setattr(stats, "CHUNK_BYTES", 4 * tiny.vocab_size * 3)  # 3 positions per chunk
    assert stats.chunk_size(tiny.vocab_size) == 3
    chunked = tiny.trace(text, top_k=4, rows="float32")
    np.testing.assert_allclose(chunked.logprob_next, whole.logprob_next, atol=1e-6)
    np.testing.assert_allclose(chunked.entropy, whole.entropy, atol=1e-6)
    np.testing.assert_allclose(chunked.rows, whole.rows, atol=1e-7)


def test_softcapping_matches_model_forward(gemma3):
    """Gemma-style final-logit soft-capping in to_logits equals the model's own forward
    (a tiny random Gemma3 with the real Gemma tokenizer and a cap of 2)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from bayesmatrix.models.hf import HFLanguageModel as LanguageModel

    torch.manual_seed(1)
    config = Gemma3TextConfig(
        vocab_size=gemma3.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=2.0,
        max_position_embeddings=64,
    )
    lm = LanguageModel(Gemma3ForCausalLM(config).eval(), gemma3.tokenizer, "tiny-gemma")
    assert lm.softcap == 2.0
    trace = lm.trace("soft caps bound the logits", top_k=2, rows="float32")
    with torch.no_grad():
        logits = lm.model(torch.tensor(trace.token_ids[None])).logits[0].double()
    assert logits.abs().max() <= 2.0  # the cap is active in the reference
    np.testing.assert_allclose(trace.rows, torch.softmax(logits, -1).numpy(), atol=1e-7)


def test_hidden_layers_reproduce_rows(tiny):
    last = tiny.num_layers
    trace = tiny.trace("a short prompt here", rows="float32", hidden_layers=[0, 1, -1])
    assert set(trace.hidden) == {0, 1, last}
    assert trace.hidden[1].shape == (len(trace), tiny.hidden_size)
    with torch.no_grad():
        logits = tiny.to_logits(torch.from_numpy(trace.hidden[last]))
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), trace.rows, atol=1e-6)


def test_rows_float16_opt_in(tiny):
    assert tiny.trace("abc").rows is None
    half = tiny.trace("abc", rows="float16").rows
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32).sum(1), 1.0, atol=2e-2)


@pytest.mark.slow
def test_continuation_logprobs_equal_separate_scores(embedded):
    context = "The weather today is cold. Tomorrow it will be"
    ids, _ = embedded.tokenize(context + " much warmer and sunny")
    conts = [" much warmer", " sunny", " extremely cold and wet"]
    cut = len(embedded.tokenize(context)[0])
    requests = [(cut, embedded.tokenizer(c, add_special_tokens=False).input_ids) for c in conts]
    requests.append((cut - 2, embedded.tokenizer(" is", add_special_tokens=False).input_ids))
    got = embedded.continuation_logprobs(ids, requests)
    assert len(requests[2][1]) >= 3  # exercises the cached branches
    # KV-cached branches and fresh passes differ by rounding, summed over up to 3 tokens
    tol = 3 * tolerance(embedded, [ids])
    for value, c in zip(got[:3], conts, strict=True):
        assert value == pytest.approx(embedded.score(context, c), abs=tol)
    prefix = embedded.tokenizer.decode(ids[: cut - 2], skip_special_tokens=True)
    assert got[3] == pytest.approx(embedded.score(prefix, " is"), abs=tol)


def test_continuation_fallback_equals_cache_path(tiny, monkeypatch):
    ids, _ = tiny.tokenize("one two three four five six seven eight")
    requests = [(3, [10, 20, 30]), (6, [40, 50]), (2, [7])]
    cached = tiny.continuation_logprobs(ids, requests)
    monkeypatch.setattr(tiny.model.config, "sliding_window", 4, raising=False)
    recomputed = tiny.continuation_logprobs(ids, requests)
    np.testing.assert_allclose(recomputed, cached, atol=1e-5)
    with pytest.raises(BayesmatrixError, match="each request"):
        tiny.continuation_logprobs(ids, [(0, [1])])


def test_a_head_that_cannot_be_sliced_gives_the_same_statistics(tiny, monkeypatch):
    """A head that is not a plain linear layer on the hidden states' device (e.g. spread by
    device_map="auto") goes through the head module and whole rows: same numbers."""
    text = "one two three four five six seven eight"
    sliced = tiny.trace(text, top_k=3)
    linear = tiny.model.get_output_embeddings()

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = linear
            self.weight = linear.weight

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return self.inner(h)

    monkeypatch.setattr(tiny.model, "get_output_embeddings", lambda: Wrapped())
    assert tiny._vocab(torch.zeros(1)) is None
    whole = tiny.trace(text, top_k=3)
    np.testing.assert_allclose(whole.logprob_next, sliced.logprob_next, atol=1e-5)
    np.testing.assert_allclose(whole.entropy, sliced.entropy, atol=1e-5)
    np.testing.assert_array_equal(whole.topk_ids, sliced.topk_ids)
