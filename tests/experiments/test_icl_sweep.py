"""Conditions, cells and resumable sweeps."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bayesmatrix import BayesmatrixError
from bayesmatrix.experiments.icl.sweep import (
    Condition,
    cell_path,
    parse_condition,
    run_cell,
    run_sweep,
)
from bayesmatrix.experiments.icl.tasks import get_task
from tests.icl_prompts import prompt_before_last_label
from tests.loaders import Counting

SENTIMENT = get_task("sentiment")
TOPIC = get_task("topic")


def shown(name, task=SENTIMENT, n=40, seed=0, **kw):
    true = [y for _, y in task.examples[:n]]
    return true, Condition(name, **kw).shown_labels(task, true, np.random.default_rng(seed))


def test_conditions_show_the_labels_they_promise():
    true, flipped = shown("flipped")
    assert all(a != b for a, b in zip(true, flipped, strict=True))
    true, half = shown("flipped", flip_fraction=0.25)
    assert sum(a != b for a, b in zip(true, half, strict=True)) == 10
    true, fh = shown("flip-half")
    assert fh[:20] == true[:20] and all(a != b for a, b in zip(true[20:], fh[20:], strict=True))
    true, reg = shown("regular")
    assert reg == true
    _, rnd = shown("random", task=TOPIC)
    assert set(rnd) <= set(TOPIC.labels) and len(set(rnd)) > 1
    words = Condition("sul").label_words(SENTIMENT)
    assert list(words.values()) == ["foo", "bar"]


def test_condition_errors():
    with pytest.raises(BayesmatrixError, match="needs a binary task"):
        shown("flipped", task=TOPIC)
    with pytest.raises(BayesmatrixError, match="unknown condition"):
        parse_condition("upside-down")
    with pytest.raises(BayesmatrixError, match="only 'flipped'"):
        parse_condition("sul:0.5")
    with pytest.raises(BayesmatrixError, match="between 0 and 1"):
        parse_condition("flipped:1.5")
    assert parse_condition("flipped:0.5").tag == "flipped-0.5"
    with pytest.raises(BayesmatrixError, match="distinct"):
        parse_condition("sul", ["foo", "foo"])
    custom = parse_condition("sul", ["wug", "dax"]).label_words(SENTIMENT)
    assert custom == {"positive": "wug", "negative": "dax"}
    with pytest.raises(BayesmatrixError, match="only 1 unrelated"):
        parse_condition("sul", ["wug"]).label_words(SENTIMENT)


@pytest.mark.slow
def test_cell_columns_agree_with_independent_prompts(smollm2):
    cell = run_cell(smollm2, SENTIMENT, Condition("flipped"), seed=3, shots=6)
    assert len(cell) == 6 and not cell["agree"].any()
    probs = np.stack(cell["probs"])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(cell["p_true"], probs[np.arange(6), cell["true_index"]])
    # k = 0 sees no demonstration: its row is the zero-shot prompt, computed separately
    assert cell.loc[0, "p_true"] == pytest.approx(cell.loc[0, "zero_shot_p_true"], abs=1e-5)
    # demo 4 of the context against a separate 4-shot prompt
    demos = list(zip(cell["input"], cell["shown_label"], strict=True))
    head = prompt_before_last_label(SENTIMENT, demos[:5])
    words = [" " + SENTIMENT.label_words[y] for y in SENTIMENT.labels]
    ref = smollm2.next_token_probs(head, words)["prob_renormalised"].to_numpy()
    np.testing.assert_allclose(probs[4], ref, atol=1e-4)


def test_context_beyond_window_names_the_largest_n(tiny):
    with pytest.raises(BayesmatrixError, match=r"at most (\d+) fit") as info:
        run_cell(tiny, SENTIMENT, Condition("regular"), seed=0, shots=20)
    largest = int(re.search(r"at most (\d+) fit", str(info.value)).group(1))
    assert 1 <= largest < 20
    run_cell(tiny, SENTIMENT, Condition("regular"), seed=0, shots=largest)
    with pytest.raises(BayesmatrixError):
        run_cell(tiny, SENTIMENT, Condition("regular"), seed=0, shots=largest + 1)


def test_sweep_resumes_without_recomputing_or_losing_cells(tiny, tmp_path):
    conds = [Condition("regular"), Condition("sul")]
    loads = []

    def cell(lm, task, condition, seed):
        return run_cell(lm, task, condition, seed, 3)

    load = Counting(make=lambda: tiny, loads=loads, tag="tiny")

    def sweep(seeds, progress=None):
        return run_sweep(
            ["tiny"], [SENTIMENT], conds, seeds, tmp_path, load, cell, "shots3", progress
        )

    first = sweep(range(2))
    assert len(first) == 2 * 2 * 3 and loads == ["tiny"]
    again = sweep(range(2))
    assert loads == ["tiny"]  # nothing missing: the model is not even loaded
    pd.testing.assert_frame_equal(first, again)

    victim = cell_path(tmp_path, "shots3", "tiny", SENTIMENT, conds[1], 1, "tiny:tiny")
    victim.unlink()
    done = []

    def crash_after_one(label):
        done.append(label)
        if len(done) == 5:  # regular 0-2, sul 0, then sul 1 (recomputed): die right after it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(range(3), crash_after_one)
    assert victim.is_file() and loads == ["tiny", "tiny"]
    final = sweep(range(3))
    assert len(final) == 2 * 3 * 3 and len(loads) == 3
    pd.testing.assert_frame_equal(final[final["seed"] < 2].reset_index(drop=True), first)
    assert not list(tmp_path.rglob("*.tmp"))
