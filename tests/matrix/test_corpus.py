"""The default corpus is the same on every machine: Debian's python3.11-doc at its pinned
version, fetched into an empty cache here (the package registry is reachable), with the
version kept beside it."""

from __future__ import annotations

import filecmp
import shutil

import pytest

from bayesmatrix.matrix import corpus
from bayesmatrix.models.paths import cache_root

pytestmark = pytest.mark.slow


def test_the_default_corpus_is_fetched_at_its_pinned_version(tmp_path, monkeypatch):
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get: the default corpus needs Debian's package tools")
    kept = cache_root() / "corpora" / "python3.11-doc"
    monkeypatch.setenv("BAYESMATRIX_CACHE", str(tmp_path))
    files = corpus.python_docs()
    assert corpus.corpus_version() == corpus._DOC_VERSION
    assert len(files) == 497 and all(f.is_relative_to(tmp_path) for f in files)
    if (kept / ".version").is_file() and (
        kept / ".version"
    ).read_text().strip() == corpus._DOC_VERSION:
        fresh = tmp_path / "corpora" / "python3.11-doc"
        assert all(filecmp.cmp(f, kept / f.relative_to(fresh), shallow=False) for f in files)
