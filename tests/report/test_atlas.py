"""The atlas across models and the comparison of two runs, on learners by construction (whose
right answers are known) and on records written by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bayesmatrix.report.atlas import atlas, folder_of, separation
from bayesmatrix.report.calibration import right_answers
from bayesmatrix.report.validate import run_validation
from bayesmatrix.results.compare import compare_runs, verdict_key
from bayesmatrix.results.records import VerdictRecord, write_verdicts
from tests.cli_helpers import run_cli

LEARNERS = ["learner:bayesian", "learner:recency", "learner:ignorer"]
CLAIMS = ["icl", "coin-flips"]


@pytest.fixture(scope="module")
def learner_atlas(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas")
    return out, atlas(LEARNERS, "test", out, claims=CLAIMS)


def test_the_atlas_holds_what_each_model_s_own_validation_says(learner_atlas, tmp_path):
    out, table = learner_atlas
    assert {"model", "claim", "rule", "status", "estimate", "interval"} <= set(table.columns)
    assert list(table["model"].unique()) == LEARNERS
    assert set(table["claim"]) == set(CLAIMS)
    saved = pd.read_parquet(out / "atlas.parquet")
    pd.testing.assert_frame_equal(
        saved.drop(columns="interval"), table.drop(columns="interval"), check_dtype=False
    )
    for model in LEARNERS:  # validated on its own, elsewhere: the same verdicts and numbers
        sections = run_validation(
            [model], "test", tmp_path / model.replace(":", "_"), claims=CLAIMS
        )
        alone = [r for s in sections for r in s.records]
        mine = table[table["model"] == model]
        assert list(mine["status"]) == [r.status for r in alone]
        for got, r in zip(mine.itertuples(), alone, strict=True):
            assert got.rule == r.rule and got.statement == r.statement
            want = r.estimate if r.estimate is not None else math.nan
            assert got.estimate == pytest.approx(want, nan_ok=True, rel=1e-12)
            assert [got.lo, got.hi] == pytest.approx(
                [x if x is not None else math.nan for x in r.interval], nan_ok=True
            )
            assert model not in got.key  # lines up with the other models' verdicts


def test_reference_learners_carry_their_right_answers_and_the_separation(learner_atlas):
    _, table = learner_atlas
    answers = right_answers()
    roles = {"learner:bayesian": "bayesian-exact", "learner:recency": "window-4",
             "learner:ignorer": "ignorer"}  # fmt: skip
    for row in table.itertuples():
        want = answers.get(row.rule, {}).get(roles[row.model])
        assert (row.expected if isinstance(row.expected, str) else None) == want
    sep = separation(table)
    for row in sep.itertuples():  # by hand from the table
        g = table[(table["rule"] == row.rule) & (table["key"] == row.key)]
        g = g[g["expected"].notna()]
        right = (g["status"] == g["expected"]).sum()
        assert row.right == right and row.references == len(g)
        assert row.separates == (g["expected"].nunique() > 1 and right == len(g))
    # the central ICL rule tells the Bayesian learner from the forgetting one at this profile
    updating = sep[sep["rule"] == "icl.updating"]
    assert updating["separates"].all()


def test_the_atlas_page_shows_models_and_references_apart(learner_atlas):
    out, table = learner_atlas
    page = (out / "atlas.html").read_text()
    for model in LEARNERS:
        assert f"<th class='ref'>{model}</th>" in page
    assert page.count("should be ") == table["expected"].notna().sum()
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_adding_a_model_reuses_the_models_already_done(learner_atlas, tmp_path):
    out, table = learner_atlas
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    saved = sorted(p for m in LEARNERS for p in (folder_of(copy, m) / "test").rglob("*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in saved}
    more = atlas([*LEARNERS, "learner:discount"], "test", copy, claims=CLAIMS)
    assert {p: p.stat().st_mtime_ns for p in saved} == stamps  # nothing recomputed
    assert list(more["model"].unique()) == [*LEARNERS, "learner:discount"]
    pd.testing.assert_frame_equal(
        more[more["model"] != "learner:discount"].reset_index(drop=True),
        table.reset_index(drop=True),
    )


def test_an_atlas_needs_two_distinct_models(tmp_path):
    one = run_cli("atlas", "learner:bayesian", "--profile", "test", "--out", str(tmp_path / "a"))
    assert one.returncode == 2 and "at least two" in one.stderr
    twice = run_cli(
        "atlas", "learner:bayesian", "learner:bayesian", "--profile", "test",
        "--out", str(tmp_path / "b"),
    )  # fmt: skip
    assert twice.returncode == 2 and "given twice" in twice.stderr


def record(model: str, rule: str, status: str, estimate: float, lo: float, hi: float,
           statement: str) -> VerdictRecord:  # fmt: skip
    return VerdictRecord(
        claim=rule.split(".")[0], rule=rule, model=model, status=status, estimate=estimate,
        interval=[lo, hi], statement=statement.format(model=model), evidence="",
        profile="test",
    )  # fmt: skip


def test_compare_lists_what_changed_beyond_its_interval(tmp_path):
    a = [
        record("base", "icl.updating", "supported", 1.0, 0.9, 1.0, "ICL of {model} is Bayesian"),
        record("base", "icl.law", "supported", 0.10, 0.05, 0.15, "law of {model}"),
        record("base", "icl.law", "supported", 0.10, 0.05, 0.15, "law of {model}"),
        record("base", "entropy.falls", "supported", -1.0, -1.2, -0.8, "rows of {model} fall"),
        record("base", "cot.entropy", "supported", -1.0, -1.2, -0.8, "chain of thought"),
    ]
    b = [
        record(
            "tuned", "icl.updating", "not supported", 0.5, 0.4, 0.6, "ICL of {model} is Bayesian"
        ),
        record("tuned", "icl.law", "supported", 0.12, 0.07, 0.17, "law of {model}"),  # overlaps
        record("tuned", "icl.law", "supported", 0.30, 0.25, 0.35, "law of {model}"),  # apart
        record("tuned", "entropy.falls", "supported", -1.1, -1.3, -0.9, "rows of {model} fall"),
        record("tuned", "matrix.closer", "supported", -0.4, -0.6, -0.3, "closer"),
    ]
    write_verdicts(tmp_path / "a", a)
    write_verdicts(tmp_path / "b", b)
    diff = compare_runs(tmp_path / "a", tmp_path / "b")
    got = {(row.rule, row.key, row.change) for row in diff.itertuples()}
    assert got == {
        ("icl.updating", "ICL of {model} is Bayesian", "status"),
        ("icl.law", "law of {model} (#2)", "estimate"),
        ("cot.entropy", "chain of thought", "only in A"),
        ("matrix.closer", "closer", "only in B"),
    }
    everything = compare_runs(tmp_path / "a", tmp_path / "b", everything=True)
    assert len(everything) == 6 and (everything["change"] == "same").sum() == 2
    shown = run_cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), check=True).stdout
    assert (
        "status: icl.updating: ICL of {model} is Bayesian: A supported 1.000 [0.900, 1.000]"
        in shown
    )
    assert "-> B not supported 0.500 [0.400, 0.600]" in shown
    assert len(shown.strip().splitlines()) == 4
    same = run_cli("compare", str(tmp_path / "a"), str(tmp_path / "a"), check=True).stdout
    assert "no verdict changed" in same
    # whole names only: a model called 'lm' leaves 'film' alone, and a name ends a sentence
    short = record("lm", "icl.law", "supported", 0.1, 0.0, 0.2, "film of {model}. {model}'s")
    assert verdict_key(short) == "film of {model}. {model}'s"
