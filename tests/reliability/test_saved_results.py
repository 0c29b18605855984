"""Saved results are reused only for exactly the inputs they were computed from; a folder of
other inputs is refused (or recomputed with --force); a kill between save steps never blocks
a rerun; --force never deletes what bayesmatrix did not write."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results import store
from bayesmatrix.results.frame import ModelFrame

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
inputs = st.dictionaries(st.text(min_size=1, max_size=6), values, min_size=1, max_size=5)


class Result(ModelFrame):
    pass


def _save(directory: Path, key: dict) -> None:
    Result("m", pd.DataFrame({"x": [1.0]})).save(directory)
    store.mark_saved(directory, key)


@settings(max_examples=60, deadline=None)
@given(inputs, st.data())
def test_any_change_to_any_input_is_never_reused(tmp_path_factory, key, data):
    """Property: after saving for `key`, the same key is reused, and a key that differs in any
    value, or has a key more or less, is refused (or recomputed with force)."""
    where = tmp_path_factory.mktemp("r")
    _save(where, key)
    assert store.is_saved(where, key)
    name = data.draw(st.sampled_from(sorted(key)))
    changed = dict(key)
    changed[name] = data.draw(values.filter(lambda v: json.dumps(v) != json.dumps(key[name])))
    for other in (changed, {**key, name + "_new": 1}, {k: v for k, v in key.items() if k != name}):
        if json.dumps(other, sort_keys=True) == json.dumps(key, sort_keys=True):
            continue
        with pytest.raises(store.StaleResultError, match="other inputs"):
            store.is_saved(where, other)
        assert store.is_saved(where, key)  # refusing deletes nothing
    assert not store.is_saved(where, changed, force=True)  # force: recompute


def test_a_new_toolkit_release_keeps_saved_results(tmp_path, monkeypatch):
    """The toolkit's version is not an input (a release used to throw away every saved
    result): a computation that changes raises its own version, which is one."""
    import bayesmatrix

    _save(tmp_path, {"a": 1, "version": 1})
    monkeypatch.setattr(bayesmatrix, "__version__", "9.9.9")
    assert store.is_saved(tmp_path, {"a": 1, "version": 1})
    with pytest.raises(store.StaleResultError, match="version: 1 -> 2"):
        store.is_saved(tmp_path, {"a": 1, "version": 2})


def test_a_kill_between_save_steps_leaves_an_unfinished_folder_that_reruns(tmp_path):
    """Parts are written first and the marker last: a folder without a (valid) marker is
    unfinished, is recomputed, and ends finished."""
    calls = []

    def compute():
        calls.append(1)
        return Result("m", pd.DataFrame({"x": [2.0]}))

    Result("m", pd.DataFrame({"x": [1.0]})).save(tmp_path)  # killed before the marker
    got = store.cached(tmp_path, {"a": 1}, Result.load, compute)
    assert calls == [1] and got.frame["x"].tolist() == [2.0]
    (tmp_path / store.MARKER).write_text('{"fingerprint": "ab')  # killed mid-write
    store.cached(tmp_path, {"a": 1}, Result.load, compute)
    assert calls == [1, 1]
    again = store.cached(tmp_path, {"a": 1}, Result.load, compute)
    assert calls == [1, 1] and again.frame["x"].tolist() == [2.0]


def test_a_file_where_a_result_folder_belongs(tmp_path):
    target = tmp_path / "f"
    target.write_text("mine")
    with pytest.raises(BayesmatrixError, match="is a file"):
        store.is_saved(target, {"a": 1})
    assert target.read_text() == "mine"


@pytest.mark.slow
def test_cot_with_other_problems_is_refused_then_forced(cli, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"question": "What is 2 + 3?", "steps": "2 + 3 = 5.", "answer": "5"}))
    out = str(tmp_path / "cot")
    code, stdout, err = cli("cot", "--problems", str(one), "--out", out)
    assert code == 0, err
    assert "1 problems" in stdout and "[inconclusive]" in stdout  # no interval from 1 problem
    code, _, err = cli("cot", "--out", out)
    assert code == 2 and "holds results of other inputs" in err and "problems:" in err
    code, stdout, err = cli("cot", "--out", out, "--force")
    assert code == 0, err
    assert "1 problems" not in stdout and "problems" in stdout


@pytest.mark.slow
def test_icl_with_other_unrelated_words_never_reuses_cells(cli, tmp_path):
    out = str(tmp_path / "icl")
    common = ["icl", "--conditions", "sul", "--shots", "3", "--seeds", "2", "--out", out]
    assert cli(*common, "--sul-words", "foo,bar")[0] == 0
    code, _, err = cli(*common, "--sul-words", "wug,dax")
    assert code == 2 and "holds results of other inputs" in err and "settings.sul_words:" in err
    code, _, err = cli(*common, "--sul-words", "wug,dax", "--force")
    assert code == 0, err
    cells = pd.read_parquet(Path(out) / "cells.parquet")
    assert set(cells["label_words"]) == {"wug, dax"}  # no cell of foo/bar was reused


@pytest.mark.slow
def test_matrix_compare_of_another_text_is_refused(cli, places, tmp_path):
    out = str(tmp_path / "cmp")
    first = ["matrix", "compare", "{index}", "smollm2-135m", "{held}", "--max-tokens", "64"]
    assert cli(*first, "--out", out)[0] == 0
    summary = json.loads((Path(out) / "summary.json").read_text())
    code, _, err = cli(*first[:4], "{held2}", "--max-tokens", "64", "--out", out)
    assert code == 2 and "holds results of other inputs" in err and "tokens:" in err
    assert json.loads((Path(out) / "summary.json").read_text()) == summary  # untouched
    # without --out, each (model, inputs) gets its own folder
    assert cli(*first)[0] == 0 and cli(*first[:4], "{held2}", "--max-tokens", "64")[0] == 0
    assert len(list((tmp_path / "runs" / "matrix" / "compare").iterdir())) == 2


def test_matrix_build_force_replaces_only_an_index(cli, places, tmp_path):
    out = tmp_path / "idx"
    assert cli("matrix", "build", "{corpus}", "--out", str(out))[0] == 0
    (out / "notes.txt").write_text("my notes")  # now the folder holds something of the user's
    code, _, err = cli("matrix", "build", "{corpus}", "--out", str(out), "--force")
    assert code == 2 and "not an index built by" in err
    assert (out / "notes.txt").read_text() == "my notes"
    (out / "notes.txt").unlink()
    assert cli("matrix", "build", "{corpus}", "--out", str(out), "--force")[0] == 0


def test_a_results_fingerprint_does_not_depend_on_where_its_data_lives(tmp_path):
    """The same task file read from two places (another checkout, another venv) is the same
    data: results computed from one are reused with the other, not refused as stale."""
    import shutil

    from bayesmatrix.claims import get_claim
    from bayesmatrix.experiments.icl.tasks import get_task
    from bayesmatrix.results.store import digest

    shipped = get_task("sentiment")
    copy = tmp_path / "elsewhere" / "sentiment.jsonl"
    copy.parent.mkdir()
    shutil.copy(shipped.source, copy)
    moved = get_task(str(copy))
    assert moved.source != shipped.source
    assert digest([moved]) == digest([shipped])
    claim = get_claim("icl")
    data = claim.data(claim.configure("test"))
    edited = copy.read_text(encoding="utf-8").replace("The worst meal", "The best meal", 1)
    copy.write_text(edited, encoding="utf-8")
    assert digest([get_task(str(copy))]) != digest(data)  # content still counts
