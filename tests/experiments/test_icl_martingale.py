"""The martingale check: each term against a separately built prompt; the verdict both ways."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.experiments.icl.martingale import (
    martingale_gaps,
    martingale_verdict,
    martingale_verdicts,
)
from bayesmatrix.experiments.icl.sweep import Condition
from bayesmatrix.experiments.icl.tasks import get_task
from tests.cli_helpers import run_cli
from tests.icl_prompts import prompt_before_last_label

SENTIMENT = get_task("sentiment")


def label_dist(lm, demos):
    """Renormalised label-word distribution at the last demo's label, from its own prompt."""
    head = prompt_before_last_label(SENTIMENT, demos)
    words = [" " + SENTIMENT.label_words[y] for y in SENTIMENT.labels]
    return lm.next_token_probs(head, words)["prob_renormalised"].to_numpy()


@pytest.mark.slow
def test_gap_terms_equal_separate_prompts(smollm2):
    gaps = martingale_gaps(smollm2, SENTIMENT, Condition("regular"), seed=1, ks=(2,))
    row = gaps.iloc[0]
    rng = np.random.default_rng([1, 7])
    order = rng.permutation(len(SENTIMENT.examples))[:4]
    demos = [SENTIMENT.examples[i] for i in order]
    context, (x_k, _), (query, query_true) = demos[:2], demos[2], demos[3]
    t = SENTIMENT.labels.index(query_true)
    a = label_dist(smollm2, [*context, (query, query_true)])[t]
    w = label_dist(smollm2, [*context, (x_k, SENTIMENT.labels[0])])
    b = [
        label_dist(smollm2, [*context, (x_k, lab), (query, query_true)])[t]
        for lab in SENTIMENT.labels
    ]
    assert row["a_k"] == pytest.approx(a, abs=1e-4)
    assert row["expected_next"] == pytest.approx(float(w @ b), abs=1e-4)
    assert row["gap"] == pytest.approx(a - float(w @ b), abs=2e-4)


def gap_frame(gaps, update=0.2):
    return pd.DataFrame({"gap": gaps, "update_size": np.full(len(gaps), update)})


def test_martingale_verdict_goes_both_ways():
    rng = np.random.default_rng(0)
    assert martingale_verdict(gap_frame(rng.normal(0, 0.005, 40))).status == "supported"
    assert martingale_verdict(gap_frame(rng.normal(0, 0.3, 40))).status == "not supported"


@pytest.mark.slow
def test_cli_icl_writes_results_and_resumes(tmp_path):
    args = [
        "icl",
        "--tasks",
        "sentiment",
        "--conditions",
        "regular,sul",
        "--shots",
        "4",
        "--seeds",
        "2",
        "--bootstrap",
        "10",
        "--out",
        str(tmp_path),
    ]
    first = run_cli(*args, check=True)
    cells = pd.read_parquet(tmp_path / "cells.parquet")
    assert len(cells) == 2 * 2 * 4 and set(cells["condition"]) == {"regular", "sul"}
    assert (tmp_path / "kappa.png").is_file() and (tmp_path / "curves_sentiment.png").is_file()
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())
    kinds = [v["statement"].split(" of ")[0] for v in verdicts]
    scaling = "A Bayesian scaling law predicts held-out shots"
    assert kinds == ["ICL", "ICL", scaling, scaling]  # updating, then the law, per condition
    assert {v["claim"] for v in verdicts} == {"icl"}
    for v in verdicts:
        assert f"[{v['status']}] {v['statement']}" in first.stdout
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cells").rglob("*.parquet")}
    run_cli(*args, check=True)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing recomputed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conditions", "upside-down"], "unknown condition"),
        (["--tasks", "no-such-task"], "shipped tasks are"),
        (["--model", "no-such-model"], "named models are"),
        (["--tasks", "topic", "--conditions", "flipped"], "needs a binary task"),
    ],
)
def test_cli_icl_bad_input(tmp_path, args, message):
    proc = run_cli("icl", "--shots", "2", "--seeds", "1", "--out", str(tmp_path), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


def test_martingale_verdicts_are_per_model():
    rng = np.random.default_rng(1)
    frame = pd.concat(
        [
            gap_frame(rng.normal(0, 0.005, 30)).assign(model="a", task="t"),
            gap_frame(rng.normal(0, 0.3, 30)).assign(model="b", task="t"),
        ]
    )
    verdicts = martingale_verdicts(frame)
    assert [v.status for v in verdicts] == ["supported", "not supported"]
    assert "of a on t" in verdicts[0].statement and "of b on t" in verdicts[1].statement
