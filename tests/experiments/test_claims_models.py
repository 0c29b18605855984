"""The embedding/entropy experiments on real and tiny models: identities and anchors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bayesmatrix import BayesmatrixError
from bayesmatrix.data.qa import load_facts, load_problems, qa_prompt
from bayesmatrix.experiments.continuity import interpolation, neighbours, perturbation
from bayesmatrix.experiments.cot import run_cot
from bayesmatrix.experiments.hallucination import run_hallucination
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def states(tiny):
    trace = tiny.trace("one two three four five six seven eight nine ten", hidden_layers=[1, 2])
    return trace.hidden


def test_rows_from_hidden_match_an_independent_logit_lens(tiny, states):
    """Against float64 copies of the model's own norm and head (the map is evaluated in
    float64; float32 rounding of logits would otherwise be part of a continuity reading)."""
    import copy

    with torch.no_grad():
        h = torch.from_numpy(states[1]).double()
        norm = copy.deepcopy(tiny.model.model.norm).double()
        head = copy.deepcopy(tiny.model.lm_head).double()
        ref = torch.softmax(head(norm(h)), -1).numpy()
        lens32 = torch.softmax(tiny.model.lm_head(tiny.model.model.norm(h.float())).double(), -1)
    np.testing.assert_allclose(tiny.rows_from_hidden(states[1], 1), ref, atol=1e-14)
    assert np.abs(lens32.numpy() - ref).max() > 1e-12  # float32 would differ: a real check
    trace = tiny.trace("one two three four five six seven eight nine ten", rows="float32")
    np.testing.assert_allclose(tiny.rows_from_hidden(states[2], 2), trace.rows, atol=1e-6)


def test_zero_perturbation_gives_the_unperturbed_row(tiny, states):
    h = states[2]
    np.testing.assert_array_equal(tiny.rows_from_hidden(h + 0.0, 2), tiny.rows_from_hidden(h, 2))
    frame = perturbation(tiny, h, 2, eps_grid=(1e-6, 1e-2, 1.0), directions=1)
    medians = frame.groupby("eps")["tv"].median()
    assert medians.iloc[0] < 1e-5 < medians.iloc[-1]
    with pytest.raises(BayesmatrixError, match="positive"):
        perturbation(tiny, h, 2, eps_grid=(0.0, 1.0))


def test_interpolation_endpoints_are_exact(tiny, states):
    h = states[2]
    frame = interpolation(tiny, h[:4], h[4:8], 2, lambdas=(0.0, 0.5, 1.0))
    ends = frame[frame["lambda"].isin([0.0, 1.0])]["tv_to_mixture"]
    assert ends.max() < 1e-12
    assert frame[frame["lambda"] == 0.5]["tv_to_mixture"].max() > 0


def test_neighbours_of_a_bank_member_are_exact(tiny, states):
    """A held-out point that is in the bank, with k=1, is predicted by itself: KL = 0."""
    h = states[2]
    frame = neighbours(tiny, h, h[:3], 2, k=1)
    np.testing.assert_allclose(frame["kl_knn"], 0.0, atol=1e-6)
    assert (frame["kl_unigram"] > 0).all()
    with pytest.raises(BayesmatrixError, match="k must be between"):
        neighbours(tiny, h, h[:3], 2, k=0)


def test_layer_out_of_range(tiny, states):
    with pytest.raises(BayesmatrixError, match="out of range"):
        tiny.rows_from_hidden(states[2], 7)


@pytest.mark.slow
def test_cot_and_hallucination_numbers_match_direct_scoring(smollm2):
    problems = load_problems()[:4]
    cot = run_cot(smollm2, problems).frame
    row = cot[(cot["question"] == problems[0].question) & cot["with_steps"]].iloc[0]
    prompt = f"Question: {problems[0].question}\nAnswer: {problems[0].steps} The answer is"
    assert row["logprob_answer"] == pytest.approx(
        smollm2.score(prompt, " " + problems[0].answer), abs=1e-4
    )
    facts = load_facts()[:6]
    hal = run_hallucination(smollm2, facts).frame
    fact = facts[0]  # "Paris": one token, so the anchor is the row right after "Answer:"
    probs = smollm2.next_token_probs(qa_prompt(fact.question), [" " + fact.answer])
    first = hal[(hal["question"] == fact.question) & ~hal["with_context"]].iloc[0]
    assert first["p_answer_first_token"] == pytest.approx(probs["prob"][0], abs=1e-5)
    # numeric answers are anchored past the bare-space token
    _, token = smollm2.first_content_token("The answer is", " 24")
    assert smollm2.tokenizer.decode([token]) == "2"


@pytest.mark.slow
def test_cli_cot_with_a_user_file_and_resume(tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "\n".join(
            json.dumps(
                {
                    "question": f"What is {a} plus {b}?",
                    "steps": f"{a} + {b} = {a + b}.",
                    "answer": str(a + b),
                }
            )
            for a, b in [(2, 3), (4, 4), (1, 6)]
        )
    )
    args = ["cot", "--problems", str(problems), "--out", str(tmp_path / "out")]
    first = run_cli(*args, check=True)
    assert "Chain of thought" in first.stdout and (tmp_path / "out" / "cot.png").is_file()
    saved = tmp_path / "out" / "smollm2-135m" / "frame.parquet"
    stamp = saved.stat().st_mtime_ns
    run_cli(*args, check=True)
    assert saved.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["continuity", "--layer", "99"], "layer 99 out of range"),
        (["continuity", "--layer", "x"], "--layer 'x' is not an int"),
        (["hallucination", "--facts", "MISSING"], "not found"),
    ],
)
def test_claim_cli_bad_input(tmp_path, args, message):
    args = [str(tmp_path / "nope.jsonl") if a == "MISSING" else a for a in args]
    proc = run_cli(*args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
