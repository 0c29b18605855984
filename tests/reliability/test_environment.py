"""The environment fails, not the tool (issue #23): a read-only or full disk, a non-UTF-8
argument, a cache path that is a file, files damaged after they were saved, JSON lines with
Unicode line separators, a repetitive corpus, output to a log instead of a terminal. Each
ends in one line (exit 2) or in the right result, never in a traceback or in lost work."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import run_cli
from tests.reliability.conftest import run_main


def one_line(done: subprocess.CompletedProcess[str] | tuple[int, str, str]) -> str:
    """The error line of a failed run: exit 2, no traceback, one `error:` line, the last on
    stderr (progress lines of the work done before it may precede it in a log)."""
    code, out, err = (
        (done.returncode, done.stdout, done.stderr) if hasattr(done, "returncode") else done
    )
    assert code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for the test (needs root and mount; skipped where not)."""
    where = tmp_path / "mnt"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:80]})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_filesystem(tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    line = one_line(run_cli("demo", "--out", str(tmpfs / "demo")))
    assert "Read-only file system" in line and "--out" in line


def test_full_filesystem(tmpfs):
    (tmpfs / "filler").write_bytes(b"\0" * 200_000)  # leave too little for a trace's files
    line = one_line(run_cli("demo", "--out", str(tmpfs / "demo")))
    assert "No space left on device" in line and "free some space" in line
    # nothing half-written is left to be mistaken for a result: no temporary files, and every
    # file that is there reads back whole
    left = list((tmpfs / "demo").rglob("*"))
    assert not [p for p in left if p.name.endswith(".tmp")]
    for parquet in (p for p in left if p.suffix == ".parquet"):
        pd.read_parquet(parquet)


def test_non_utf8_argument(monkeypatch, capsys):
    latin1 = b"caf\xe9".decode("utf-8", "surrogateescape")  # what a Latin-1 terminal sends
    line = one_line(run_main(["trace", "smollm2-135m", latin1], monkeypatch, capsys))
    assert "argument 3" in line and "not valid UTF-8" in line


def test_cache_that_is_a_file(tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", "trace", str(tmp_path / "x.gguf"), "hi"],
        capture_output=True,
        text=True,
        env={**os.environ, "BAYESMATRIX_CACHE": str(cache)},
    )
    assert "not found" in one_line(done)  # a missing GGUF is named before the cache is used
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    done = subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", "trace", str(gguf), "hi"],
        capture_output=True,
        text=True,
        env={**os.environ, "BAYESMATRIX_CACHE": str(cache)},
    )
    line = one_line(done)
    assert "is a file" in line and "BAYESMATRIX_CACHE" in line


FACTS = [
    {"question": "What is the capital of France?", "answer": "Paris", "context": "Paris is "
     "the capital of France."},
    {"question": "What is the capital of Italy?", "answer": "Rome", "context": "Rome is the "
     "capital of Italy."},
    {"question": "How many legs does a spider have?", "answer": "eight", "context": "A spider "
     "has eight legs."},
]  # fmt: skip


def test_a_damaged_saved_result_is_named_and_force_recomputes_it(tmp_path):
    facts = tmp_path / "facts.jsonl"
    facts.write_text("\n".join(json.dumps(f) for f in FACTS) + "\n")
    out = tmp_path / "out"
    args = ["hallucination", "--facts", str(facts), "--out", str(out)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    frame = out / "smollm2-135m" / "frame.parquet"
    frame.write_bytes(frame.read_bytes()[:100])  # truncated since
    line = one_line(run_cli(*args))  # the digest in done.json names it before any read
    assert "was changed after it was saved" in line and "--force" in line and str(frame) in line
    again = run_cli(*args, "--force")
    assert again.returncode == 0, again.stderr
    assert first.stdout.splitlines()[-3:-1] == again.stdout.splitlines()[-3:-1]  # verdicts
    assert len(pd.read_parquet(frame)) == 2 * len(FACTS)


def test_a_damaged_checkpoint_is_named_and_force_restarts(tmp_path):
    args = ["windtunnel", "run", "--V", "4", "--length", "8", "--arch", "mlp", "--out",
            str(tmp_path)]  # fmt: skip
    assert run_cli(*args, "--steps", "2").returncode == 0
    checkpoint = tmp_path / "dirichlet" / "mlp" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:50])
    line = one_line(run_cli(*args, "--steps", "4"))
    assert "checkpoint" in line and "damaged" in line and "--force" in line
    done = run_cli(*args, "--steps", "4", "--force")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "dirichlet" / "mlp" / "train.json").read_text())["steps"] == 4


def test_a_damaged_icl_cell_is_named_and_force_recomputes_it(tmp_path):
    args = ["icl", "--conditions", "regular", "--shots", "2", "--seeds", "2", "--bootstrap",
            "0", "--out", str(tmp_path / "o")]  # fmt: skip
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    cell = sorted((tmp_path / "o" / "cells").rglob("seed1.parquet"))[0]
    cell.write_bytes(b"PAR1 not really")
    (tmp_path / "o" / "done.json").unlink()  # the analysis must read the cells again
    line = one_line(run_cli(*args))
    assert "seed1.parquet" in line and "--force" in line
    again = run_cli(*args, "--force")
    assert again.returncode == 0, again.stderr
    assert len(pd.read_parquet(cell)) == 2


def test_jsonl_lines_end_at_newlines_only(tmp_path):
    from bayesmatrix.experiments.icl.tasks import load_task

    header = {"name": "t", "labels": {"a": "yes", "b": "no"}}
    rows = [
        {"input": "one\u2028two\u0085three\x1cfour", "label": "a"},
        {"input": "x", "label": "b"},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [header, *rows]) + "\n")
    task = load_task(path)
    assert task.examples[0][0] == "one\u2028two\u0085three\x1cfour" and len(task.examples) == 2


def test_repetitive_corpus_fits_the_prior_in_bounded_work(tmp_path, monkeypatch):
    """The prior fit reads each distinct context once (a level costs as many reads as its
    context has occurrences; on a repetitive corpus every sampled position had the same
    huge contexts, and the fit ran for minutes). Counted, not timed; the fit is unchanged."""
    from bayesmatrix.matrix import build
    from bayesmatrix.matrix.index import SuffixIndex
    from bayesmatrix.matrix.smoothing import fit

    corpus = tmp_path / "rep.txt"
    corpus.write_text("the cat sat on the mat. " * 20_000)
    matrix, _ = build([corpus], "smollm2-135m", tmp_path / "index")
    reads: list[int] = []
    original_reads, original_levels = SuffixIndex._next_tokens, SuffixIndex.levels

    def counted(self, ranges):
        found = original_reads(self, ranges)
        reads.append(len(found))
        return found

    monkeypatch.setattr(SuffixIndex, "_next_tokens", counted)
    memoised = fit(matrix.index, 60, 32)
    # a context's occurrences are read once per distinct context: the text repeats every 7
    # tokens, so there are 7 contexts at each of the 31 depths >= 2 (a few more at the start)
    assert max(reads) > 10_000 and len(reads) <= 8 * 31
    reads.clear()

    def unmemoised(self, context, max_depth=None, found=None, memo=None):
        return original_levels(self, context, max_depth, found)

    monkeypatch.setattr(SuffixIndex, "levels", unmemoised)
    assert fit(matrix.index, 60, 32) == memoised
    assert len(reads) >= 60 * 20  # what the fit read before: every position, every depth


def test_memo_does_not_change_levels(tmp_path):
    from bayesmatrix.matrix import build

    corpus = tmp_path / "c.txt"
    corpus.write_text(("the cat sat on the mat. a dog ran. " * 300) + "odd words at the end")
    matrix, _ = build([corpus], "smollm2-135m", tmp_path / "index")
    index, memo = matrix.index, {}
    rng = np.random.default_rng(0)
    for p in rng.integers(5, index.n_tokens - 1, size=200):
        context = np.asarray(index.tokens[max(0, p - 20) : p])
        plain = index.levels(context, 16)
        cached = index.levels(context, 16, memo=memo)
        assert [(lv.depth, lv.ids.tolist(), lv.counts.tolist()) for lv in plain] == [
            (lv.depth, lv.ids.tolist(), lv.counts.tolist()) for lv in cached
        ]


def test_progress_reaches_a_log(tmp_path):
    """Without a terminal, progress goes to stderr as plain lines (a batch job's log shows
    the run is alive), at most one every 30 s beyond the first and the last."""
    done = run_cli("icl", "--conditions", "regular,flipped", "--shots", "2", "--seeds", "2",
                   "--bootstrap", "0", "--out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if re.match(r"icl: .* \[\d+/4", line)]
    assert lines and "[1/4, 25%]" in lines[0] and "[4/4, 100%]" in lines[-1], done.stderr
    assert len(lines) <= 4


def test_analysis_resumes_group_by_group(tmp_path, monkeypatch):
    """A kill during the fits loses at most the group being fitted: a rerun fits only the
    groups that had not finished, and gives the same analysis."""
    from bayesmatrix.experiments.icl import analysis as icl_analysis

    rng = np.random.default_rng(0)
    rows = []
    for cond in ("regular", "flipped", "sul"):
        for seed in range(2):
            for k in range(6):
                p = float(rng.uniform(0.2, 0.8))
                rows.append({
                    "model": "m", "model_params": 1, "task": "t", "condition": cond,
                    "seed": seed, "k": k, "probs": np.array([p, 1 - p]), "p_true": p,
                    "zero_shot_p_true": 0.5, "agree": cond != "flipped", "true_index": 0,
                    "shown_index": 0 if cond != "flipped" else 1, "label_mass": 0.3,
                })  # fmt: skip
    frame = pd.DataFrame(rows)
    where = tmp_path / "analysis"
    seen: list[str] = []

    def die_on_third(label: str) -> None:
        seen.append(label)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        icl_analysis.analyse(frame, 5, 0, where, die_on_third)
    fitted: list[str] = []
    original = icl_analysis._analyse_group

    def spy(a, group, bootstrap, seed):
        fitted.append(group["condition"].iloc[0])
        return original(a, group, bootstrap, seed)

    monkeypatch.setattr(icl_analysis, "_analyse_group", spy)
    resumed = icl_analysis.analyse(frame, 5, 0, where)
    # the group the kill interrupted (sul) and the one after it (regular and flipped pooled)
    assert fitted == ["sul", "regular"]
    monkeypatch.setattr(icl_analysis, "_analyse_group", original)
    fresh = icl_analysis.analyse(frame, 5, 0)
    pd.testing.assert_frame_equal(resumed.fits, fresh.fits)
    pd.testing.assert_frame_equal(resumed.curves, fresh.curves)
