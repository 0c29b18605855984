"""Single-pass prequential ICL probabilities against separate k-shot prompts."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmatrix import BayesmatrixError
from bayesmatrix.experiments.icl.sweep import TEMPLATE, prequential_label_probs, render_context

DEMOS = [
    ("I loved this film", "pos"),
    ("Terrible, boring plot", "neg"),
    ("A delight", "pos"),
    ("Waste of time", "neg"),
    ("Brilliant acting", "pos"),
    ("I hated it", "neg"),
    ("Wonderful music", "pos"),
    ("Dull and slow", "neg"),
]
WORDS = {"pos": "positive", "neg": "negative"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "words", [WORDS, {"pos": "foo", "neg": "bar"}, {"pos": "very good", "neg": "very bad"}]
)
def test_single_pass_equals_separate_k_shot_prompts(embedded, words):
    frame = prequential_label_probs(embedded, DEMOS, words)
    for k in (0, 3, 7):
        context, _, _ = render_context(DEMOS[: k + 1], words)
        head = context[: context.rindex("Output:") + len("Output:")]
        probs = embedded.next_token_probs(head, [" " + w for w in words.values()])
        expected = probs["prob_renormalised"].to_numpy()
        got = frame.loc[k, [f"p_{name}" for name in words]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert frame.loc[k, "label_mass"] == pytest.approx(probs["prob"].sum(), abs=1e-4)


def test_bad_tasks(tiny):
    with pytest.raises(BayesmatrixError, match="no label word"):
        prequential_label_probs(tiny, [("x", "other")], WORDS)
    with pytest.raises(BayesmatrixError, match="share one label word"):
        prequential_label_probs(tiny, DEMOS, {"pos": "yes", "neg": "yes"})
    with pytest.raises(BayesmatrixError, match="at least one"):
        prequential_label_probs(tiny, [], WORDS)
    with pytest.raises(BayesmatrixError, match="end with"):
        render_context(DEMOS, WORDS, template="{label}: {input}")
    # each cut is where a label slot starts: the whitespace lead, then the label word
    text, cuts, lead = render_context(DEMOS, WORDS)
    assert lead == " " and TEMPLATE.endswith("{label}")
    for cut, (x, y) in zip(cuts, DEMOS, strict=True):
        assert text[cut : cut + len(lead + WORDS[y])] == lead + WORDS[y]
        assert text[:cut].endswith(f"Input: {x}\nOutput:")
