"""Guards at the library's boundary (issue #33), each where the probe found it missing: the
Python API refuses what the CLI refuses, a plug-in cannot break the built-ins, saved results
edited by hand are noticed, files follow the umask, links inside --out are refused."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import bayesmatrix
from bayesmatrix.claims import get_claim
from bayesmatrix.claims.registry import load_plugin
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.outdir import claim_output_dir, release
from bayesmatrix.results.store import ChangedResultError
from tests.cli_helpers import run_cli

LEARNER = "learner:bayesian"


def test_run_refuses_a_folder_of_the_users_and_leaves_it_untouched(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "readings.parquet").write_bytes(b"my own data")
    (mine / "meta.json").write_text("{}")
    with pytest.raises(BayesmatrixError, match="did not write"):
        bayesmatrix.run("coin-flips", model=LEARNER, profile="test", out=mine)
    assert (mine / "readings.parquet").read_bytes() == b"my own data"
    assert sorted(p.name for p in mine.iterdir()) == ["meta.json", "readings.parquet"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"flips": float("nan")}, "flips"),
        ({"flips": "8"}, "flips"),
        ({"flips": 2.5}, "flips"),
        ({"seeds": True}, "seeds"),
        ({"biases": [0.2, 0.2]}, "twice"),
    ],
)
def test_python_settings_are_checked_as_text_is(tmp_path, settings, message):
    with pytest.raises(BayesmatrixError, match=message):
        bayesmatrix.run("coin-flips", model=LEARNER, profile="test", out=tmp_path, **settings)
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_a_model_given_twice_is_refused_by_the_api(tmp_path):
    with pytest.raises(BayesmatrixError, match="given twice"):
        bayesmatrix.run("icl", model=[LEARNER, LEARNER], profile="test", out=tmp_path)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("learner:bayesian?kappa", "kappa"),
        ("learner:bayesian?&&&", "learner"),
        ("learner:bayesian?kappa=1&kappa=50", "given twice"),
    ],
)
def test_a_bad_learner_reference_is_one_clear_error(reference, message):
    with pytest.raises(BayesmatrixError, match=message):
        bayesmatrix.load(reference)


def test_a_setting_of_a_claim_not_run_is_refused(tmp_path):
    proc = run_cli(
        "validate", "--profile", "test", "--claims", "icl", "-s", "prior.k_max=3",
        "--out", str(tmp_path / "v"),
    )  # fmt: skip
    assert proc.returncode == 2 and "is not among" in proc.stderr
    assert not (tmp_path / "v").exists()


class _Point:
    """An entry point as importlib.metadata gives one (name, value, dist, load)."""

    def __init__(self, loaded: object):
        self.name, self.value, self.loaded = "clash", "clash_plugin:CLAIM", loaded
        self.dist = type("Dist", (), {"name": "clash-plugin"})()

    def load(self) -> object:
        if isinstance(self.loaded, Exception):
            raise self.loaded
        return self.loaded


def test_a_plugin_named_like_a_built_in_or_failing_to_import_is_skipped(caplog):
    import dataclasses

    builtin = get_claim("icl")
    clash = dataclasses.replace(builtin, title="an impostor")
    object.__setattr__(clash, "source", "clash_plugin")
    with caplog.at_level(logging.WARNING, logger="bayesmatrix.claims.registry"):
        load_plugin(_Point(clash))
        load_plugin(_Point(ImportError("no module named 'torch_nightly'")))
    assert get_claim("icl") is builtin  # the built-in still answers, every command works
    messages = [r.getMessage() for r in caplog.records]
    assert any("registered twice" in m and "clash_plugin" in m for m in messages), messages
    assert any("ImportError" in m and "torch_nightly" in m for m in messages), messages


def test_a_saved_result_edited_by_hand_is_noticed(tmp_path):
    out = tmp_path / "run"
    first = bayesmatrix.run("icl", model=LEARNER, profile="test", out=out)
    assert first.verdicts()
    fits = out / "fits.parquet"  # what the probe edited: inconclusive became supported
    frame = pd.read_parquet(fits)
    column = next(c for c in frame.columns if frame[c].dtype.kind == "f")
    frame[column] = frame[column] + 0.5  # still valid Parquet, other numbers
    frame.to_parquet(fits, index=False)
    with pytest.raises(ChangedResultError, match="changed after it was saved"):
        bayesmatrix.run("icl", model=LEARNER, profile="test", out=out)
    again = bayesmatrix.run("icl", model=LEARNER, profile="test", out=out, force=True)
    assert [str(v) for v in again.verdicts()] == [str(v) for v in first.verdicts()]


def test_an_icl_run_prints_no_numpy_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run = bayesmatrix.run("icl", model="learner:recency", profile="test", out=tmp_path)
        assert run.verdicts()


def test_a_link_inside_out_to_a_folder_elsewhere_is_refused(tmp_path):
    out = tmp_path / "out"
    claim_output_dir(out)
    release(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "cells").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BayesmatrixError, match="a link to a folder elsewhere"):
        claim_output_dir(out)
    assert not list(elsewhere.iterdir())


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    script = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from bayesmatrix.results.io import write_json, write_text\n"
        "write_json(sys.argv[1] + '/a.json', {'x': 1})\n"
        "write_text(sys.argv[1] + '/b.html', 'x')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    for name in ("a.json", "b.html"):
        assert os.stat(Path(tmp_path) / name).st_mode & 0o777 == mode


def test_a_validation_holds_no_model_after_it_returns(tmp_path):
    """run_validation keeps its model between claims, never after: a notebook that validates
    must get the memory back (and a later run must load its own model, not find this one)."""
    from bayesmatrix import executor
    from bayesmatrix.report.validate import run_validation

    assert not executor._MODEL
    sections = run_validation([LEARNER], "test", tmp_path, claims=["icl"])
    assert sections[0].records and not executor._MODEL
