"""The ideal matrix on real text in SmolLM2's tokenizer: build, rows, sampling, the comparison
with the LM (checked against a separate forward pass), the CLI, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import entropy

from bayesmatrix.data import stdlib_docs
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.matrix import IdealMatrix, build, build_index
from bayesmatrix.matrix.compare import compare
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stdlib docstrings split into files; the last 6000 characters are held out."""
    text = stdlib_docs(max_chars=120_000)
    root = tmp_path_factory.mktemp("corpus")
    body, held = text[:-6000], text[-6000:]
    for i in range(0, len(body), 20_000):
        (root / f"part{i // 20_000}.txt").write_text(body[i : i + 20_000], encoding="utf-8")
    (root.parent / "heldout.txt").write_text(held, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def matrix(corpus: Path) -> IdealMatrix:
    m, stats = build([corpus], "smollm2-135m", corpus.parent / "index")
    assert stats.tokens == m.index.n_tokens and stats.documents == 6
    return m


def test_build_and_rows(matrix: IdealMatrix, corpus: Path, smollm2) -> None:
    files = sorted(corpus.glob("*.txt"))
    ids = [smollm2.tokenizer(f.read_text(), add_special_tokens=False).input_ids for f in files]
    assert matrix.index.n_tokens == sum(len(i) + 1 for i in ids)
    flat = [t for doc in ids for t in doc]
    ctx = flat[500:505]
    row = matrix.row(smollm2.tokenizer.decode(ctx))
    assert row.context_ids == ctx and row.matched >= 1
    deepest = row.levels[-1]
    suffix = ctx[len(ctx) - deepest.depth :]
    want = sum(
        1 for doc in ids for j in range(len(suffix), len(doc)) if doc[j - len(suffix) : j] == suffix
    )
    assert deepest.total == want  # a brute-force scan of the same token streams
    for prior in ("dirichlet", "kn"):
        p = matrix.row(ctx, prior).predictive
        assert p.shape == (smollm2.vocab_size,) and p.sum() == pytest.approx(1, abs=1e-9)
    top = matrix.top(row, 5)
    assert top["prob"].is_monotonic_decreasing and top["prob"].iloc[0] == row.predictive.max()


def test_unseen_context_backs_off_to_the_unigram_row(matrix: IdealMatrix) -> None:
    unseen = [int(t) for t in np.flatnonzero(matrix.index.unigram == 0)[:3]]
    row = matrix.row(unseen)
    assert row.matched == 0
    np.testing.assert_allclose(row.predictive, matrix.row([]).predictive)
    with pytest.raises(BayesmatrixError, match="outside the vocabulary"):
        matrix.row([10**7])


def test_sampling_is_seeded_text(matrix: IdealMatrix) -> None:
    a = matrix.sample("The", 15, seed=1)
    assert a == matrix.sample("The", 15, seed=1) and a != matrix.sample("The", 15, seed=2)
    assert len(matrix.encode(a)) >= 5


def test_compare_against_a_separate_forward_pass(matrix: IdealMatrix, smollm2, corpus: Path):
    text = (corpus.parent / "heldout.txt").read_text()
    out = corpus.parent / "cmp"
    result = compare(matrix, smollm2, text, out, window=64, max_tokens=200)
    frame = result.positions
    ids = matrix.encode(text)[:200]
    window = ids[63:127]  # windows overlap by one token: each token is predicted once
    with torch.no_grad():
        logits = smollm2.model(torch.tensor([window])).logits[0].double()
    q = torch.softmax(logits, -1).numpy()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(window[1:]))
    rows = frame[frame["window"] == 1]
    assert rows["log2p_lm"].mean() == pytest.approx(-nll.item() / np.log(2), rel=1e-4)
    t = 10
    p = matrix.row(window[max(0, t - 32) : t]).predictive
    got = rows[rows["t"] == t].iloc[0]
    assert got["kl_matrix_lm"] == pytest.approx(entropy(p, q[t - 1], base=2), rel=1e-3)
    assert got["kl_lm_matrix"] == pytest.approx(entropy(q[t - 1], p, base=2), rel=1e-3)
    mix = np.log2(0.3 * p[window[t]] + 0.7 * q[t - 1, window[t]])
    assert got["log2p_mix0.30"] == pytest.approx(mix, rel=1e-4)
    s = result.summary
    assert s["ppl_lm"] == pytest.approx(2 ** -frame["log2p_lm"].mean())
    assert s["ppl_lm_lo"] <= s["ppl_lm"] <= s["ppl_lm_hi"]
    assert result.by_matched["positions"].sum() == len(frame) == 199
    slope = np.polyfit(frame["matched"].clip(upper=8), frame["kl_matrix_lm"], 1)[0]
    assert s["kl_slope_bits"] == pytest.approx(slope, rel=1e-9)
    assert s["kl_slope_bits_lo"] <= slope <= s["kl_slope_bits_hi"]
    even, odd = frame[frame["window"] % 2 == 0], frame[frame["window"] % 2 == 1]
    lam = s["mix_lambda_heldout"]

    def mix(part, lam):
        p_m, p_l = 2.0 ** part["log2p_matrix"], 2.0 ** part["log2p_lm"]
        return np.log2(lam * p_m + (1 - lam) * p_l)

    assert all(mix(even, lam).mean() >= mix(even, x).mean() - 1e-9 for x in np.linspace(0, 1, 21))
    gain = (mix(odd, lam) - odd["log2p_lm"]).mean()
    assert s["mix_gain_bits"] == pytest.approx(gain, rel=1e-6, abs=1e-9)
    # a rerun reads the saved windows instead of recomputing them
    saved = sorted((out / "windows").iterdir())
    stamps = [f.stat().st_mtime_ns for f in saved]
    again = compare(matrix, smollm2, text, out, window=64, max_tokens=200)
    assert [f.stat().st_mtime_ns for f in saved] == stamps
    pd.testing.assert_series_equal(pd.Series(again.summary), pd.Series(s))  # NaN == NaN here
    assert np.isnan(s["mix_gain_bits_lo"])  # two odd windows: too few for an interval


def test_tokenizer_mismatch_is_refused(matrix: IdealMatrix, gemma3, tmp_path: Path) -> None:
    with pytest.raises(BayesmatrixError, match="Rebuild the index with --tokenizer gemma3-270m"):
        compare(matrix, gemma3, "some text to compare")
    with pytest.raises(BayesmatrixError, match="not this one"):
        IdealMatrix(matrix.index.path, gemma3.tokenizer)
    foreign = build_index([[1, 2, 3]], tmp_path / "f", 49152, "smollm2-135m", "0" * 16, 0)
    with pytest.raises(BayesmatrixError, match="rows would not align"):
        IdealMatrix(foreign.path)


def test_bad_corpora_leave_no_index(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(BayesmatrixError, match="no tokens"):
        build([tmp_path / "empty.txt"], "smollm2-135m", tmp_path / "idx")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with pytest.raises(BayesmatrixError, match=r"latin1\.txt is not UTF-8"):
        build([tmp_path / "latin1.txt"], "smollm2-135m", tmp_path / "idx")
    with pytest.raises(BayesmatrixError, match="not found"):
        build([tmp_path / "missing.txt"], "smollm2-135m", tmp_path / "idx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "latin1.txt"]


def test_cli_build_row_sample_compare(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    done = run_cli("matrix", "build", str(corpus), "--out", str(index), "--heldout-every", "3")
    assert done.returncode == 0, done.stderr
    assert "bytes/token" in done.stdout and (index / "meta.json").is_file()
    held = [corpus / "part2.txt", corpus / "part5.txt"]
    assert (index / "heldout.txt").read_text() == "\n\n".join(f.read_text() for f in held)
    assert json.loads((index / "meta.json").read_text())["documents"] == 4
    again = run_cli("matrix", "build", str(corpus), "--out", str(index))
    assert again.returncode == 2 and "--force" in again.stderr
    row = run_cli("matrix", "row", str(index), "Return the number of")
    assert row.returncode == 0 and "matched suffix" in row.stdout and "(empty)" in row.stdout
    sample = run_cli("matrix", "sample", str(index), "The", "-n", "5")
    assert sample.returncode == 0 and sample.stdout.startswith("The")
    out = tmp_path / "cmp"
    cmp = run_cli(
        "matrix", "compare", str(index), "smollm2-135m", str(corpus.parent / "heldout.txt"),
        "--max-tokens", "120", "--out", str(out),
    )  # fmt: skip
    assert cmp.returncode == 0, cmp.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["positions"] == 119 and (out / "kl_by_matched.png").stat().st_size > 5000
    truncated = index / "tokens.bin"
    truncated.write_bytes(truncated.read_bytes()[:100])
    bad = run_cli("matrix", "row", str(index), "x")
    assert bad.returncode == 2 and "truncated or damaged" in bad.stderr
