"""A suffix-array index over a tokenised corpus, on disk and memory-mapped.

Each shard stores a suffix array of its *reversed* token stream (built by libdivsufsort over the
tokens as fixed-width big-endian bytes). Entry i is the position e where the i-th smallest
backward reading tokens[e], tokens[e-1], ... starts. A context c_1..c_k read backwards is then a
prefix, so the ranges of its suffixes of length 1, 2, ... k are nested and each longer one is
found by one more binary search inside the last; the next token of an occurrence is
tokens[e + 1]. Counts of depth 0 and 1 (unigrams, bigrams) are precomputed because their ranges
are the widest. Shards keep memory bounded while building (n-grams that straddle a shard border
are not counted).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydivsufsort

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor, Job, LocalExecutor

FORMAT = 2  # 2: per-file block checksums in meta.json
DEFAULT_SHARD_TOKENS = 1 << 26
CHECK_BLOCK = 1 << 22  # checksums cover 4 MiB blocks
FULL_CHECK_BYTES = 1 << 26  # files up to 64 MiB are checked whole at open, larger ones sampled
# the names an index directory may hold: what --force may replace
INDEX_FILES = ("meta.json", "prior.json", "heldout.txt", "tokens.bin", "unigram.bin")
INDEX_PREFIXES = ("sa-", "bigram_")
_SMALL = 2048  # ranges up to this size are searched with one vectorised gather


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of the tokenizer's vocabulary: indexes and models must share it for rows to align."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Level:
    """The corpus counts of tokens that follow the last `depth` context tokens."""

    depth: int
    ids: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def types(self) -> int:
        return int(self.ids.size)

    def dense(self, vocab: int) -> np.ndarray:
        out = np.zeros(vocab)
        out[self.ids] = self.counts
        return out

    def count_of(self, token: int) -> int:
        hit = np.searchsorted(self.ids, token)
        return int(self.counts[hit]) if hit < self.ids.size and self.ids[hit] == token else 0


def block_checksums(path: Path) -> list[int]:
    """CRC-32 of each CHECK_BLOCK-sized block of a file."""
    out = []
    with open(path, "rb") as f:
        while block := f.read(CHECK_BLOCK):
            out.append(zlib.crc32(block))
    return out


def verify_blocks(path: Path, expected: Sequence[int], sample: int | None = None) -> bool:
    """Whether the file's blocks match their checksums: all of them, or the first, the last
    and `sample` random others (for files over FULL_CHECK_BYTES)."""
    n = len(expected)
    chosen: Sequence[int]
    if sample is None or n <= sample + 2:
        chosen = range(n)
    else:
        rng = np.random.default_rng()
        chosen = sorted({0, n - 1, *rng.choice(n, size=sample, replace=False).tolist()})
    with open(path, "rb") as f:
        for i in chosen:
            f.seek(i * CHECK_BLOCK)
            if zlib.crc32(f.read(CHECK_BLOCK)) != expected[i]:
                return False
    return True


def is_index_dir(path: Path) -> bool:
    """Whether `path` is recognisably an index bayesmatrix built: a readable meta.json of
    ours, and no file or folder that an index does not hold."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or not {"format", "tokenizer", "shards"} <= set(meta):
        return False
    return all(
        f.is_file() and (f.name in INDEX_FILES or f.name.startswith(INDEX_PREFIXES))
        for f in path.iterdir()
    )


def _token_dtype(vocab: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab <= 1 << 16 else np.dtype(np.uint32)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def index_shard(tokens: np.ndarray, vocab: int) -> tuple[np.ndarray, ...]:
    """One shard's tables: the suffix array of its reversed stream, unigram counts, and its
    bigram keys (first * vocab + second) with their counts."""
    unigram = np.bincount(tokens, minlength=vocab)
    keys, counts = np.unique(
        tokens[:-1].astype(np.int64) * np.int64(vocab) + tokens[1:], return_counts=True
    )
    return _sort_reversed(tokens), unigram, keys, counts


def _sort_reversed(tokens: np.ndarray) -> np.ndarray:
    """Suffix array of the reversed stream, as end positions in `tokens` (uint32)."""
    width = tokens.dtype.itemsize
    data = np.frombuffer(bytearray(tokens[::-1].astype(f">u{width}").tobytes()), dtype=np.uint8)
    sa = pydivsufsort.divsufsort(data)
    starts = sa[sa % width == 0] // width
    return (len(tokens) - 1 - starts).astype(np.uint32)


class IndexBuilder:
    """Streams documents into a new index directory; the index appears only when complete.

    Everything is written to a hidden sibling directory, renamed into place by `commit()`; an
    interrupted build leaves no directory at `out` that could be mistaken for an index.
    """

    def __init__(
        self,
        out: str | Path,
        vocab_size: int,
        tokenizer: str,
        fingerprint: str,
        separator: int,
        shard_tokens: int = DEFAULT_SHARD_TOKENS,
        overwrite: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self.out = Path(out)
        # shards are indexed here as they fill, or all at the end as jobs of an executor
        self.executor = None if isinstance(executor, LocalExecutor) else executor
        self._pending: list[np.ndarray] = []
        if self.out.exists() and not overwrite:
            raise BayesmatrixError(f"{self.out} exists; choose another --out or pass --force")
        if self.out.exists() and not (self.out.is_dir() and is_index_dir(self.out)):
            raise BayesmatrixError(
                f"{self.out} exists and is not an index built by bayesmatrix; --force only "
                "replaces such an index, so nothing was deleted: choose another --out"
            )
        if vocab_size < 2 or not 0 <= separator < vocab_size:
            raise BayesmatrixError(f"bad vocabulary ({vocab_size}) or separator ({separator})")
        if shard_tokens < 2:
            raise BayesmatrixError("shard_tokens must be at least 2")
        self.tmp = self.out.parent / f".{self.out.name}.building-{os.getpid()}"
        for stale in self.out.parent.glob(f".{self.out.name}.building-*"):
            if not _alive(stale.name.rsplit("-", 1)[-1]):  # left by a killed build
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.meta: dict[str, Any] = {
            "format": FORMAT,
            "tokenizer": tokenizer,
            "fingerprint": fingerprint,
            "vocab_size": vocab_size,
            "separator": separator,
            "dtype": _token_dtype(vocab_size).name,
            "shards": [],
            "documents": 0,
        }
        self.dtype = _token_dtype(vocab_size)
        self._tokens = open(self.tmp / "tokens.bin", "wb")  # noqa: SIM115 - closed in finish()
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._shard_tokens = shard_tokens
        self._start = 0
        self._unigram = np.zeros(vocab_size, dtype=np.int64)
        self._bigrams: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def tokens_added(self) -> int:
        return self._start + self._buffered

    def add(self, ids: Sequence[int] | np.ndarray, end: bool = True) -> None:
        """Append token ids; `end` closes the document with the separator token."""
        doc = np.asarray(ids, dtype=np.int64)
        if doc.size and (doc.min() < 0 or doc.max() >= self.meta["vocab_size"]):
            raise BayesmatrixError(
                f"token ids must be in [0, {self.meta['vocab_size']}); got {doc.min()}..{doc.max()}"
            )
        if end:
            doc = np.append(doc, self.meta["separator"])
            self.meta["documents"] += 1
        if doc.size == 0:
            return
        self._buffer.append(doc.astype(self.dtype))
        self._buffered += doc.size
        if self._buffered >= self._shard_tokens:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        tokens = np.concatenate(self._buffer)
        self._buffer, self._buffered = [], 0
        shard = len(self.meta["shards"])
        tokens.tofile(self._tokens)
        if self.executor is None:
            self._store(shard, index_shard(tokens, self.meta["vocab_size"]))
        else:
            self._pending.append(tokens)
        self.meta["shards"].append({"start": self._start, "tokens": int(tokens.size)})
        self._start += int(tokens.size)

    def _store(self, shard: int, tables: tuple) -> None:
        sa, unigram, keys, counts = tables
        sa.tofile(self.tmp / f"sa-{shard:05d}.bin")
        self._unigram += unigram
        self._bigrams.append((keys, counts))

    def _index_pending(self) -> None:
        """Shards held back for the executor, indexed as parallel jobs (the tables combine
        by sums and a sort, so the files are those of the serial build)."""
        if not self._pending or self.executor is None:
            return
        vocab = self.meta["vocab_size"]
        jobs = [
            Job(f"index shard {i}", index_shard, (tokens, vocab))
            for i, tokens in enumerate(self._pending)
        ]
        shard_of = {job.key: i for i, job in enumerate(jobs)}
        self._pending = []
        self.executor.run(jobs, lambda job, tables: self._store(shard_of[job.key], tables))

    def finish(self) -> SuffixIndex:
        """Write the last shard and the count tables; returns the (not yet committed) index."""
        self._flush()
        self._tokens.close()
        self._index_pending()
        if self._start == 0:
            self.abort()
            raise BayesmatrixError(
                "the corpus has no tokens: every file was empty; pass text files with content"
            )
        keys = np.concatenate([k for k, _ in self._bigrams])
        counts = np.concatenate([c for _, c in self._bigrams])
        if len(self._bigrams) > 1:
            keys, inverse = np.unique(keys, return_inverse=True)
            counts = np.bincount(inverse, weights=counts).astype(np.int64)
        keys.astype(np.int64).tofile(self.tmp / "bigram_keys.bin")
        counts.astype(np.uint32).tofile(self.tmp / "bigram_counts.bin")
        self._unigram.tofile(self.tmp / "unigram.bin")
        self.meta["tokens"] = self._start
        self.meta["bigrams"] = int(keys.size)
        self.meta["checksums"] = {
            f.name: block_checksums(f) for f in sorted(self.tmp.iterdir()) if f.suffix == ".bin"
        }
        (self.tmp / "meta.json").write_text(json.dumps(self.meta, indent=1))
        return SuffixIndex(self.tmp)

    def commit(self) -> Path:
        """Move the finished index to `out` (replacing an older one only now)."""
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            self.out.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        self.tmp.rename(self.out)
        return self.out

    def abort(self) -> None:
        if not self._tokens.closed:
            self._tokens.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def build_index(
    documents: Iterable[Sequence[int] | np.ndarray | tuple[Sequence[int], bool]],
    out: str | Path,
    vocab_size: int,
    tokenizer: str,
    fingerprint: str,
    separator: int,
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    overwrite: bool = False,
) -> SuffixIndex:
    """Build and commit an index from token-id documents (see IndexBuilder)."""
    builder = IndexBuilder(
        out, vocab_size, tokenizer, fingerprint, separator, shard_tokens, overwrite
    )
    try:
        for doc in documents:
            if isinstance(doc, tuple):
                builder.add(*doc)
            else:
                builder.add(doc)
        builder.finish()
    except BaseException:
        builder.abort()
        raise
    return SuffixIndex(builder.commit())


class SuffixIndex:
    """A built index, memory-mapped: counts of next tokens after any context suffix."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.is_file():
            raise BayesmatrixError(
                f"{self.path} is not a bayesmatrix index (no meta.json); build one with "
                "`bayesmatrix matrix build CORPUS... --out DIR`"
            )
        try:
            self.meta = json.loads(meta_path.read_text())
            if not isinstance(self.meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise BayesmatrixError(f"{meta_path} is corrupt ({exc}); rebuild the index") from None
        if self.meta.get("format") != FORMAT:
            raise BayesmatrixError(
                f"{self.path} has index format {self.meta.get('format')}, this version reads "
                f"{FORMAT}; rebuild the index"
            )
        self.vocab_size: int = self.meta["vocab_size"]
        self.n_tokens: int = self.meta["tokens"]
        self.separator: int = self.meta["separator"]
        dtype = np.dtype(self.meta["dtype"])
        self.tokens = self._map("tokens.bin", dtype, self.n_tokens)
        self.shards = [
            (s["start"], s["tokens"], self._map(f"sa-{i:05d}.bin", np.uint32, s["tokens"]))
            for i, s in enumerate(self.meta["shards"])
        ]
        self.unigram = np.array(self._map("unigram.bin", np.int64, self.vocab_size))
        self.bigram_keys = self._map("bigram_keys.bin", np.int64, self.meta["bigrams"])
        self.bigram_counts = self._map("bigram_counts.bin", np.uint32, self.meta["bigrams"])
        self._verify()
        self._unigram_level = Level(0, np.flatnonzero(self.unigram), self.unigram[self.unigram > 0])
        self._continuation0: Level | None = None

    def _verify(self) -> None:
        """Compare the data files with the checksums written at build time (whole files up to
        FULL_CHECK_BYTES, else the first, last and 8 random blocks per file)."""
        for name, expected in self.meta.get("checksums", {}).items():
            path = self.path / name
            sample = 8 if path.stat().st_size > FULL_CHECK_BYTES else None
            if not verify_blocks(path, expected, sample):
                raise BayesmatrixError(
                    f"index file {path} does not match its checksum: the index is damaged; "
                    "rebuild it with `bayesmatrix matrix build ... --force`"
                )

    def _map(self, name: str, dtype: Any, count: int) -> np.ndarray:
        path = self.path / name
        want = count * np.dtype(dtype).itemsize
        size = path.stat().st_size if path.is_file() else -1
        if size != want:
            what = "missing" if size < 0 else f"{size} bytes, expected {want}"
            raise BayesmatrixError(
                f"index file {path} is {what}: the index is truncated or damaged; rebuild it"
            )
        if count == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r", shape=(count,))

    @property
    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def __repr__(self) -> str:
        return (
            f"SuffixIndex({str(self.path)!r}, tokens={self.n_tokens}, "
            f"shards={len(self.shards)}, tokenizer={self.meta['tokenizer']!r})"
        )

    # ---- searching ----------------------------------------------------------------------
    def _narrow(
        self, start: int, sa: np.ndarray, lo: int, hi: int, depth: int, token: int
    ) -> tuple[int, int]:
        """Sub-range of [lo, hi) whose backward reading has `token` at offset `depth`."""
        toks = self.tokens
        if hi - lo <= _SMALL:
            ends = sa[lo:hi].astype(np.int64)
            back = toks[start + np.maximum(ends - depth, 0)].astype(np.int64)
            keys = np.where(ends >= depth, back, -1)
            return lo + int(np.searchsorted(keys, token, "left")), lo + int(
                np.searchsorted(keys, token, "right")
            )

        def key(entry: np.uint32) -> int:
            e = int(entry)
            return int(toks[start + e - depth]) if e >= depth else -1

        left = bisect.bisect_left(sa, token, lo, hi, key=key)
        return left, bisect.bisect_right(sa, token, left, hi, key=key)

    def ranges(
        self, context: Sequence[int] | np.ndarray, max_depth: int | None = None
    ) -> list[list[tuple]]:
        """For depth k = 1.. : per shard (start, n, sa, lo, hi) of occurrences of the last k
        context tokens; stops at the first depth with no occurrence."""
        ctx = [int(t) for t in context]
        if max_depth is not None:
            ctx = ctx[len(ctx) - max_depth :] if max_depth > 0 else []
        out: list[list[tuple]] = []
        current = [(start, n, sa, 0, n) for start, n, sa in self.shards]
        for depth, token in enumerate(reversed(ctx)):
            if not 0 <= token < self.vocab_size:
                raise BayesmatrixError(
                    f"token id {token} is outside the index's vocabulary (0..{self.vocab_size - 1})"
                )
            nxt = []
            for start, n, sa, lo, hi in current:
                a, b = self._narrow(start, sa, lo, hi, depth, token)
                if b > a:
                    nxt.append((start, n, sa, a, b))
            if not nxt:
                break
            out.append(nxt)
            current = nxt
        return out

    def _next_tokens(self, shard_ranges: list[tuple]) -> np.ndarray:
        parts = []
        for start, n, sa, lo, hi in shard_ranges:
            ends = sa[lo:hi].astype(np.int64)
            ends = ends[ends + 1 < n]
            parts.append(self.tokens[start + ends + 1].astype(np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _bigram_level(self, token: int) -> Level:
        v = self.vocab_size
        lo, hi = np.searchsorted(self.bigram_keys, [token * v, (token + 1) * v])
        return Level(
            1,
            np.asarray(self.bigram_keys[lo:hi]) - token * v,
            np.asarray(self.bigram_counts[lo:hi], dtype=np.int64),
        )

    def levels(
        self,
        context: Sequence[int] | np.ndarray,
        max_depth: int | None = None,
        found: list | None = None,
        memo: dict[tuple[int, ...], Level] | None = None,
    ) -> list[Level]:
        """Next-token counts after each suffix of the context (depth 0 = unigram), up to the
        longest suffix that is followed by at least one token in the corpus. `found`: the
        context's `ranges`, when the caller already has them. `memo`: levels already counted,
        by suffix, shared between calls (a level costs as many reads as its suffix has
        occurrences, so a repetitive corpus would otherwise repeat huge reads)."""
        out = [self._unigram_level]
        found = self.ranges(context, max_depth) if found is None else found
        ids_ = [int(t) for t in context]
        for depth, shard_ranges in enumerate(found, start=1):
            key = tuple(ids_[len(ids_) - depth :])
            if memo is not None and key in memo:
                level = memo[key]
            elif depth == 1:
                level = self._bigram_level(int(context[-1]))
            else:
                nxt = self._next_tokens(shard_ranges)
                if nxt.size > self.vocab_size // 4:
                    counts = np.bincount(nxt, minlength=self.vocab_size)
                    ids = np.flatnonzero(counts)
                    level = Level(depth, ids, counts[ids])
                else:
                    ids, counts = np.unique(nxt, return_counts=True)
                    level = Level(depth, ids, counts)
            if memo is not None:
                memo[key] = level
            if level.total == 0:
                break
            out.append(level)
        return out

    def continuation(self, context: Sequence[int], depth: int, found: list | None = None) -> Level:
        """Kneser-Ney continuation counts: for each w, the number of distinct tokens x with
        (x, last `depth` context tokens, w) in the corpus (x = -1 at the corpus start).
        `found`: the context's `ranges` to at least this depth, when the caller has them."""
        if depth == 0:
            if self._continuation0 is None:
                nxt = np.asarray(self.bigram_keys) % self.vocab_size
                counts = np.bincount(nxt, minlength=self.vocab_size)
                ids = np.flatnonzero(counts)
                self._continuation0 = Level(0, ids, counts[ids])
            return self._continuation0
        found = self.ranges(context, depth) if found is None else found
        if len(found) < depth:
            return Level(depth, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        keys = []
        v = self.vocab_size + 1
        for start, n, sa, lo, hi in found[depth - 1]:
            ends = sa[lo:hi].astype(np.int64)
            ends = ends[ends + 1 < n]
            prev = np.where(
                ends >= depth, self.tokens[start + np.maximum(ends - depth, 0)].astype(np.int64), -1
            )
            nxt = self.tokens[start + ends + 1].astype(np.int64)
            keys.append(nxt * v + prev + 1)
        pairs = np.unique(np.concatenate(keys))
        ids, counts = np.unique(pairs // v, return_counts=True)
        return Level(depth, ids, counts)
