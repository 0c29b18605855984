"""Corpora for the ideal matrix: text files (or directories of them) streamed as token-id
documents, and an offline default, the Python 3.11 documentation sources from Debian."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bayesmatrix.data import read_utf8
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor, Job

TEXT_SUFFIXES = (".txt", ".rst", ".md", ".text")
DEFAULT_CORPUS = "python-docs"
_DOC_PACKAGE = "python3.11-doc"
# the version the documented counts come from: pinned so that two machines build the same
# corpus; when the mirror no longer has it, the current version is fetched and recorded
_DOC_VERSION = "3.11.2-6+deb12u9"
_CHUNK_CHARS = 200_000


def python_docs() -> list[Path]:
    """The reStructuredText sources of the Python 3.11 manual (about 11 MB of English), from
    Debian's python3.11-doc package (version _DOC_VERSION when the mirror has it; the version
    fetched is kept in the cache, see corpus_version): fetched once with `apt-get download`
    (no root needed) and unpacked into the cache."""
    from bayesmatrix.models.paths import cache_root

    target = cache_root() / "corpora" / _DOC_PACKAGE
    if not target.is_dir():
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            raise BayesmatrixError(
                "the default corpus comes from Debian's python3.11-doc package and this machine "
                "has no apt-get; pass your own text files instead: bayesmatrix matrix build "
                "FILE_OR_DIR..."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            pinned = ["apt-get", "download", f"{_DOC_PACKAGE}={_DOC_VERSION}"]
            done = subprocess.run(pinned, cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0 and os.geteuid() == 0:  # stale package lists on a new machine
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
                done = subprocess.run(pinned, cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0:  # the mirror has moved on: take its version, recorded
                fetch = ["apt-get", "download", _DOC_PACKAGE]
                done = subprocess.run(fetch, cwd=tmp, capture_output=True, text=True)
            debs = list(Path(tmp).glob("*.deb"))
            if done.returncode != 0 or not debs:
                raise BayesmatrixError(
                    f"`apt-get download {_DOC_PACKAGE}` failed ({done.stderr.strip()[-300:]}); "
                    "run `apt-get update` first or pass your own text files"
                )
            unpacked = Path(tmp) / "root"
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
            sources = unpacked / "usr/share/doc/python3.11/html/_sources"
            version = subprocess.run(["dpkg-deb", "-f", str(debs[0]), "Version"],
                                     capture_output=True, text=True, check=True)  # fmt: skip
            (sources / ".version").write_text(version.stdout.strip() + "\n")
            sources.rename(Path(tmp) / "sources")
            (Path(tmp) / "sources").rename(target)
    return sorted(target.rglob("*.txt"))


def corpus_version() -> str:
    """The python3.11-doc version the cached default corpus was unpacked from ('unknown' for a
    cache made before versions were kept)."""
    from bayesmatrix.models.paths import cache_root

    kept = cache_root() / "corpora" / _DOC_PACKAGE / ".version"
    return kept.read_text().strip() if kept.is_file() else "unknown"


def corpus_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and directories (text files by suffix, recursively); no paths means the
    default corpus."""
    if not paths or list(map(str, paths)) == [DEFAULT_CORPUS]:
        return python_docs()
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES
            )
            if not found:
                raise BayesmatrixError(
                    f"{path} holds no text files ({', '.join(TEXT_SUFFIXES)}); pass files directly"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise BayesmatrixError(f"corpus path not found: {path}")
    seen: dict[Path, Path] = {}
    for file in files:  # a file given twice (or inside a folder also given) is indexed twice
        real = file.resolve()
        if real in seen:
            raise BayesmatrixError(
                f"corpus file {file} is given twice (also as {seen[real]}, or inside a folder "
                "that is also given); pass each file or folder once"
            )
        seen[real] = file
    return files


def _chunks(text: str) -> Iterator[str]:
    """Pieces of at most ~_CHUNK_CHARS, cut at blank lines so no word is split."""
    while len(text) > _CHUNK_CHARS:
        cut = text.rfind("\n\n", 0, _CHUNK_CHARS)
        cut = cut + 2 if cut > 0 else _CHUNK_CHARS
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens; the Rust tokenizer's offset-free batch path when the
    tokenizer has one (about a third faster), else the transformers call."""
    fast = getattr(getattr(tokenizer, "_tokenizer", None), "encode_batch_fast", None)
    if fast is not None:
        return [e.ids for e in fast(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False).input_ids


def tokenized_documents(
    files: Sequence[Path], tokenizer: object, batch_chars: int = 4_000_000
) -> Iterator[tuple[list[int], bool]]:
    """(token ids, ends a file) for each file piece (long files are cut at blank lines),
    tokenised in batches by the fast tokenizer."""
    batch: list[str] = []
    ends: list[bool] = []
    size = 0
    for path in files:
        pieces = list(_chunks(read_utf8(path, "corpus file")))
        for i, piece in enumerate(pieces):
            batch.append(piece)
            ends.append(i == len(pieces) - 1)
            size += len(piece)
            if size >= batch_chars:
                ids = _encode(tokenizer, batch)
                yield from zip(ids, ends, strict=True)
                batch, ends, size = [], [], 0
    if batch:
        ids = _encode(tokenizer, batch)
        yield from zip(ids, ends, strict=True)


def tokenize_texts(texts: Sequence[str], tokenizer_name: str) -> list[tuple[np.ndarray, bool]]:
    """A job: documents of whole files' texts, as tokenized_documents gives them (ids as
    int32 arrays, light to send back); the tokenizer is loaded once per worker process."""
    tokenizer = _worker_tokenizer(tokenizer_name)
    out: list[tuple[np.ndarray, bool]] = []
    for text in texts:
        pieces = list(_chunks(text))
        for i, ids in enumerate(_encode(tokenizer, pieces)):
            out.append((np.asarray(ids, dtype=np.int32), i == len(pieces) - 1))
    return out


@functools.lru_cache(maxsize=2)
def _worker_tokenizer(name: str) -> object:
    """The tokenizer, loaded once per worker. A job asks for one CPU, so the Rust tokenizer's
    thread pool gets one thread (set before its first use in this process); in the driver's
    serial build it uses every core."""
    from bayesmatrix.models.hf_load import load_tokenizer

    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    return load_tokenizer(name)[0]


def parallel_tokenized_documents(
    files: Sequence[Path],
    tokenizer_name: str,
    executor: Executor,
    part_chars: int = 2_000_000,
) -> Iterator[tuple[np.ndarray, bool]]:
    """tokenized_documents, with runs of consecutive files (about part_chars each) tokenised
    as parallel jobs; the driver reads the files and sends their texts, so workers need no
    access to them. Documents come back in file order: the index is the serial one."""
    parts: list[list[str]] = [[]]
    size = 0
    for path in files:
        text = read_utf8(path, "corpus file")
        if size >= part_chars:
            parts.append([])
            size = 0
        parts[-1].append(text)
        size += len(text)
    jobs = [
        Job(f"tokenise part {i}", tokenize_texts, (texts, tokenizer_name))
        for i, texts in enumerate(parts)
    ]
    done: dict[str, list] = {}
    executor.run(jobs, lambda job, docs: done.__setitem__(job.key, docs))
    for job in jobs:
        yield from done.pop(job.key)
