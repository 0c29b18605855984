"""Output folders belong to one run at a time and only to bayesmatrix (issue #23): two runs on
one `--out` used to both exit 0 with one's results silently lost; `demo`/`icl` overwrote a
user's own `summary.json`, `trace.png`, `verdicts.json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.outdir import LOCK, MARKER, claim_output_dir, held, release
from tests.cli_helpers import run_cli

HOLD = """
import sys, time
from bayesmatrix.results.outdir import claim_output_dir
claim_output_dir(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


def test_a_folder_of_the_users_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "summary.json").write_text("mine")
    (tmp_path / "trace.png").write_bytes(b"mine")
    for command in (["demo"], ["icl", "--shots", "2", "--seeds", "1"]):
        done = run_cli(*command, "--out", str(tmp_path))
        assert done.returncode == 2 and "did not write" in done.stderr, done.stderr
    assert (tmp_path / "summary.json").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json", "trace.png"]


def test_a_folder_an_earlier_run_made_is_reused(tmp_path):
    out = tmp_path / "out"
    claim_output_dir(out)
    assert json.loads((out / MARKER).read_text())["tool"] == "bayesmatrix"
    (out / "result.parquet").write_bytes(b"ours")
    release(out)
    assert claim_output_dir(out) == out  # ours: accepted again, with its files
    release(out)


def test_a_second_process_is_refused_with_the_holders_name(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            BayesmatrixError, match=f"in use by another bayesmatrix run \\(pid {holder.pid}"
        ):
            claim_output_dir(out)
        done = run_cli("demo", "--out", str(out))
        assert done.returncode == 2 and f"pid {holder.pid}" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    assert claim_output_dir(out) == out  # a killed holder's lock is gone with it
    release(out)
    assert (out / LOCK).is_file()


def test_two_runs_on_one_folder_at_once_one_runs_the_other_refuses(tmp_path):
    """Two `icl` runs with other conditions started together on one --out: exactly one runs
    (exit 0, its results whole), the other exits 2 naming the lock; nothing is lost."""
    out = tmp_path / "out"
    common = ["icl", "--shots", "2", "--seeds", "1", "--bootstrap", "0", "--out", str(out)]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bayesmatrix.cli", *common, "--conditions", condition],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for condition in ("regular", "flipped")
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (winner,) = [r for r in results if r[0] == 0]
    (loser,) = [r for r in results if r[0] == 2]
    assert "in use by another bayesmatrix run" in loser[2]
    verdicts = json.loads((out / "verdicts.json").read_text())
    condition = "regular" if "(regular)" in winner[1] else "flipped"
    icl = [v for v in verdicts if "ICL of" in v["statement"]]
    assert icl and all(f"({condition})" in v["statement"] for v in icl)
    # the loser's run, now alone, is refused by the fingerprint: the winner's results stay
    again = run_cli(*common, "--conditions", "flipped" if condition == "regular" else "regular")
    assert again.returncode == 2 and "holds results of other inputs" in again.stderr
    assert json.loads((out / "verdicts.json").read_text()) == verdicts


def test_lock_is_reentrant_in_one_process(tmp_path):
    out = tmp_path / "o"
    claim_output_dir(out)
    claim_output_dir(out)  # the same process may take its own folder again (no error)
    assert held().count(out.resolve()) == 1
    release(out)
    assert out.resolve() not in held()


def test_an_index_build_holds_its_own_lock(tmp_path):
    """`matrix build` writes beside its --out (a hidden build folder renamed into place), so
    it locks a sibling file: a second build of the same index refuses."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text for an index. " * 200)
    index = tmp_path / "index"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\n"
            "from bayesmatrix.results.outdir import lock\n"
            "p = Path(sys.argv[1]); lock(p.parent / f'.{p.name}.lock', p)\n"
            "print('held', flush=True); time.sleep(120)",
            str(index),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = run_cli("matrix", "build", str(corpus), "--out", str(index))
        assert done.returncode == 2 and "in use by another bayesmatrix run" in done.stderr
        assert not index.exists()
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("matrix", "build", str(corpus), "--out", str(index)).returncode == 0
    assert Path(index / "prior.json").is_file()
