"""The suffix-array index against brute-force scans of small random corpora."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.matrix import SuffixIndex, build_index


def random_docs(seed: int, vocab: int, n_docs: int = 30) -> list[np.ndarray]:
    """Skewed random documents (tokens 1..vocab-1; 0 is the separator) with repeats."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(vocab - 1, 0.5))
    return [1 + rng.choice(vocab - 1, size=rng.integers(5, 120), p=p) for _ in range(n_docs)]


def build(tmp: Path, docs: list[np.ndarray], vocab: int, shard: int) -> SuffixIndex:
    return build_index(docs, tmp / "idx", vocab, "test", "fp", 0, shard_tokens=shard)


def shard_streams(index: SuffixIndex) -> list[list[int]]:
    toks = np.asarray(index.tokens)
    return [toks[s : s + n].tolist() for s, n, _ in index.shards]


def brute_counts(streams: list[list[int]], ctx: list[int]) -> Counter:
    """Tokens following `ctx` (within one shard); the empty context is followed by every token."""
    out: Counter = Counter()
    k = len(ctx)
    for s in streams:
        for i in range(len(s)):
            if i >= k and s[i - k : i] == ctx:  # k = 0: every position
                out[s[i]] += 1
    return out


def brute_continuation(streams: list[list[int]], ctx: list[int]) -> Counter:
    """Distinct left neighbours x of (ctx, w) for each w; x = -1 at a shard start (depth > 0)."""
    pairs = set()
    k = len(ctx)
    for s in streams:
        for i in range(k, len(s)):
            if s[i - k : i] == ctx:
                left = i - k - 1
                if left < 0 and k == 0:
                    continue
                pairs.add((s[left] if left >= 0 else -1, s[i]))
    return Counter(w for _, w in pairs)


@pytest.mark.parametrize("small", [2048, 3])  # 3: every search takes the bisect path
@pytest.mark.parametrize("shard", [10_000, 700])
@pytest.mark.parametrize("vocab", [6, 300])
def test_counts_match_brute_force(
    tmp_path: Path, shard: int, vocab: int, small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bayesmatrix.matrix.index._SMALL", small)
    docs = random_docs(vocab, vocab)
    index = build(tmp_path, docs, vocab, shard)
    assert index.n_tokens == sum(len(d) + 1 for d in docs)
    assert (len(index.shards) > 1) == (shard < index.n_tokens)
    streams = shard_streams(index)
    rng = np.random.default_rng(1)
    corpus = np.asarray(index.tokens)  # with separators; shard starts included below
    starts = [s for s, _, _ in index.shards]
    contexts = [corpus[i : i + rng.integers(1, 9)].tolist() for i in rng.integers(0, 2000, 25)]
    contexts += [corpus[s : s + rng.integers(1, 4)].tolist() for s in starts]
    contexts += [rng.integers(1, vocab, rng.integers(1, 5)).tolist() for _ in range(25)]
    for ctx in contexts:
        levels = index.levels(ctx)
        for level in levels:
            suffix = ctx[len(ctx) - level.depth :] if level.depth else []
            want = brute_counts(streams, suffix)
            assert dict(zip(level.ids.tolist(), level.counts.tolist(), strict=True)) == want
        deeper = ctx[len(ctx) - levels[-1].depth - 1 :]
        if levels[-1].depth < len(ctx):  # the next longer suffix is never followed by a token
            assert not brute_counts(streams, deeper)
        for depth in range(0, min(len(ctx), 4) + 1):
            got = index.continuation(ctx, depth)
            want = brute_continuation(streams, ctx[len(ctx) - depth :] if depth else [])
            assert dict(zip(got.ids.tolist(), got.counts.tolist(), strict=True)) == want


def test_uint32_tokens_for_large_vocabularies(tmp_path: Path) -> None:
    vocab = 70_000
    rng = np.random.default_rng(3)
    docs = [rng.integers(65_000, vocab, 50) for _ in range(20)] + [np.array([65_535, 65_536] * 5)]
    index = build(tmp_path, docs, vocab, 10_000)
    assert index.tokens.dtype == np.uint32
    level = index.levels([65_535])[1]
    assert level.count_of(65_536) == 5


def test_bad_token_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BayesmatrixError, match=r"token ids must be in \[0, 5\)"):
        build(tmp_path, [np.array([1, 2, 7])], 5, 100)
    assert not (tmp_path / "idx").exists()
    assert not list(tmp_path.iterdir())  # the half-built directory was removed
    index = build(tmp_path, random_docs(0, 5), 5, 1000)
    with pytest.raises(BayesmatrixError, match="outside the index's vocabulary"):
        index.levels([1, 9])


def test_empty_corpus_and_failed_build_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(BayesmatrixError, match="no tokens"):
        build_index([], tmp_path / "idx", 5, "t", "f", 0)

    def broken():
        yield from random_docs(0, 5, 3)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_index(broken(), tmp_path / "idx", 5, "t", "f", 0, shard_tokens=50)
    assert not list(tmp_path.iterdir())


def test_a_killed_build_leaves_only_a_hidden_directory_that_the_next_build_removes(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    script = (
        "import os, numpy as np\n"
        "from bayesmatrix.matrix.index import IndexBuilder\n"
        f"b = IndexBuilder({str(tmp_path / 'idx')!r}, 5, 't', 'f', 0, shard_tokens=10)\n"
        "b.add(np.arange(1, 5).repeat(10))\n"
        "os._exit(9)\n"  # killed before finish()/commit()
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".idx.building-")
    with pytest.raises(BayesmatrixError, match="not a bayesmatrix index"):
        SuffixIndex(tmp_path / "idx")
    build(tmp_path, random_docs(0, 5), 5, 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_existing_index_needs_overwrite(tmp_path: Path) -> None:
    first = build(tmp_path, random_docs(0, 5), 5, 1000)
    with pytest.raises(BayesmatrixError, match="--force"):
        build(tmp_path, random_docs(1, 5), 5, 1000)
    second = build_index(random_docs(1, 5), tmp_path / "idx", 5, "t", "f", 0, overwrite=True)
    fresh = build(tmp_path / "fresh", random_docs(1, 5), 5, 1000)  # the same docs, new folder
    np.testing.assert_array_equal(second.unigram, fresh.unigram)
    np.testing.assert_array_equal(np.asarray(second.tokens), np.asarray(fresh.tokens))
    assert not np.array_equal(np.asarray(second.tokens[:100]), np.asarray(first.tokens[:100]))


def test_truncated_or_foreign_index_is_refused(tmp_path: Path) -> None:
    index = build(tmp_path, random_docs(0, 5), 5, 1000)
    sa = index.path / "sa-00000.bin"
    data = sa.read_bytes()
    sa.write_bytes(data[:-8])
    with pytest.raises(BayesmatrixError, match="truncated or damaged"):
        SuffixIndex(index.path)
    with pytest.raises(BayesmatrixError, match="not a bayesmatrix index"):
        SuffixIndex(tmp_path)
