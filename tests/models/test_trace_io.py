"""Trace frames, save/load, and the window/truncation rules."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmatrix import BayesmatrixError, Trace


def test_frame_columns_and_values(tiny):
    trace = tiny.trace("The cat sat on the mat", top_k=3)
    frame = trace.to_frame()
    assert list(frame["token_id"]) == trace.token_ids.tolist()
    assert list(frame["next_token_id"][:-1]) == trace.token_ids[1:].tolist()
    np.testing.assert_allclose(frame["entropy_bits"], trace.entropy / np.log(2))
    np.testing.assert_allclose(frame["p_next"][:-1], np.exp(trace.logprob_next[:-1]))
    assert all(len(t) == 3 for t in frame["topk_tokens"])


def test_save_load_round_trip(tiny, tmp_path):
    trace = tiny.trace("round trip me", top_k=4, rows="float16", hidden_layers=[1])
    loaded = Trace.load(trace.save(tmp_path / "t"))
    np.testing.assert_array_equal(loaded.token_ids, trace.token_ids)
    np.testing.assert_array_equal(loaded.logprob_next, trace.logprob_next)
    np.testing.assert_array_equal(loaded.entropy, trace.entropy)
    np.testing.assert_array_equal(loaded.topk_ids, trace.topk_ids)
    np.testing.assert_array_equal(loaded.rows, trace.rows)
    np.testing.assert_array_equal(loaded.hidden[1], trace.hidden[1])
    assert loaded.tokens == trace.tokens and loaded.topk_tokens == trace.topk_tokens
    assert loaded.model == trace.model and loaded.bos_added == trace.bos_added


def test_load_rejects_non_trace_directory(tmp_path):
    with pytest.raises(BayesmatrixError, match="not a saved trace"):
        Trace.load(tmp_path)


def test_prompt_longer_than_window(tiny):
    text = " ".join(["word"] * 100)
    with pytest.raises(BayesmatrixError, match="context window of 64 tokens"):
        tiny.trace(text)
    ids, _ = tiny.tokenize(text)
    truncated = tiny.trace(text, truncate="left")
    assert len(truncated) == 64
    np.testing.assert_array_equal(truncated.token_ids, ids[-64:])


def test_truncation_keeps_bos(tiny):
    text = " ".join(["word"] * 100)
    truncated = tiny.trace(text, truncate="left", add_bos=True)
    assert truncated.token_ids[0] == tiny.bos_id and len(truncated) == 64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": ""}, "prompt is empty"),
        ({"source": []}, "token_ids is empty"),
        ({"source": [10**9]}, "out of range"),
        ({"source": "x", "top_k": -1}, "top_k"),
        ({"source": "x", "rows": "int8"}, "rows must be"),
        ({"source": "x", "hidden_layers": [99]}, "layer 99 out of range"),
        ({"source": "x", "truncate": "right"}, "truncate must be"),
    ],
)
def test_bad_trace_input(tiny, kwargs, message):
    with pytest.raises(BayesmatrixError, match=message):
        tiny.trace(**kwargs)


def test_score_bad_input(tiny):
    with pytest.raises(BayesmatrixError, match="continuation is empty"):
        tiny.score("abc", "")
    with pytest.raises(BayesmatrixError, match="context is empty"):
        tiny.score("", "abc")
    with pytest.raises(BayesmatrixError, match="spans the boundary"):
        tiny.score("The capi", "tal")
