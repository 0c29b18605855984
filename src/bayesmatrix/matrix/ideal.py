"""The ideal matrix of a corpus: for any context, the corpus counts after each of its suffixes and
the posterior row under a hierarchical prior, in the tokenizer of the LM it is compared with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesmatrix.bayes import Dirichlet
from bayesmatrix.bayes.information import entropy
from bayesmatrix.data import read_utf8
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor, LocalExecutor
from bayesmatrix.matrix.corpus import (
    corpus_files,
    parallel_tokenized_documents,
    tokenized_documents,
)
from bayesmatrix.matrix.index import (
    DEFAULT_SHARD_TOKENS,
    IndexBuilder,
    Level,
    SuffixIndex,
    tokenizer_fingerprint,
)
from bayesmatrix.matrix.smoothing import PRIORS, HierarchicalDirichlet, KneserNey, SmoothingFit, fit
from bayesmatrix.results.io import write_json

MAX_DEPTH = 32
MAX_SAMPLE = 1_000_000  # tokens per sample() call
HELDOUT = "heldout.txt"


@dataclass(frozen=True)
class BuildStats:
    tokens: int
    documents: int
    tokenize_seconds: float
    index_seconds: float
    fit_seconds: float
    disk_bytes: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.tokenize_seconds + self.index_seconds, 1e-9)


@dataclass
class Row:
    """One row of the ideal matrix: the counts behind it and its posterior."""

    context_ids: list[int]
    levels: list[Level]
    posterior: Dirichlet
    prior: str

    @property
    def predictive(self) -> np.ndarray:
        return self.posterior.mean()

    @property
    def matched(self) -> int:
        """Length of the longest context suffix followed by something in the corpus."""
        return self.levels[-1].depth if self.levels else 0

    @property
    def entropy_bits(self) -> float:
        return float(entropy(self.predictive, base=2))


def _tokenizer_for(name: str) -> Any:
    from bayesmatrix.models.hf_load import load_tokenizer

    return load_tokenizer(name)[0]


class IdealMatrix:
    """A built index opened with its tokenizer (checked against the one it was built with)."""

    def __init__(self, path: str | Path, tokenizer: object | None = None) -> None:
        self.index = SuffixIndex(path)
        meta = self.index.meta
        self.tokenizer: Any = (
            tokenizer if tokenizer is not None else _tokenizer_for(meta["tokenizer"])
        )
        self.check_tokenizer(self.tokenizer)
        fit_path = self.index.path / "prior.json"
        if not fit_path.is_file():
            raise BayesmatrixError(f"{fit_path} is missing: the index is incomplete; rebuild it")
        try:
            raw = json.loads(fit_path.read_text())
            self.fit = SmoothingFit(
                raw["a"], raw["b"], raw["loo_bits"], tuple(raw["discounts"]), raw["positions"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BayesmatrixError(
                f"{fit_path} is corrupt ({type(exc).__name__}: {exc}); rebuild the index"
            ) from None
        self.vocab_size = self.index.vocab_size

    def check_tokenizer(self, tokenizer: object, model: str = "the model you compare with") -> None:
        """Refuse a tokenizer with another vocabulary than the index's: rows would not align."""
        meta = self.index.meta
        theirs = tokenizer_fingerprint(tokenizer)
        if theirs != meta["fingerprint"]:
            raise BayesmatrixError(
                f"{self.index.path} was built with the tokenizer of '{meta['tokenizer']}' "
                f"(vocabulary {meta['fingerprint']}), not this one ({theirs}); rows would not "
                f"align. Rebuild the index with --tokenizer {model}"
            )

    def __repr__(self) -> str:
        return f"IdealMatrix({self.index!r}, a={self.fit.a:.3g}, b={self.fit.b:.3g})"

    def prior(self, name: str = "dirichlet", order: int = 5) -> HierarchicalDirichlet | KneserNey:
        if name == "dirichlet":
            return HierarchicalDirichlet(self.fit.a, self.fit.b)
        if name == "kn":
            return KneserNey(order, self.fit.discounts)
        raise BayesmatrixError(f"unknown prior '{name}'; choose from {', '.join(PRIORS)}")

    def encode(self, context: str | Sequence[int]) -> list[int]:
        if isinstance(context, str):
            return list(self.tokenizer(context, add_special_tokens=False).input_ids)
        ids = [int(t) for t in context]
        bad = [t for t in ids if not 0 <= t < self.vocab_size]
        if bad:
            raise BayesmatrixError(
                f"token ids {bad[:5]} are outside the vocabulary (0..{self.vocab_size - 1})"
            )
        return ids

    def row(
        self,
        context: str | Sequence[int],
        prior: str | HierarchicalDirichlet | KneserNey = "dirichlet",
        max_depth: int = MAX_DEPTH,
    ) -> Row:
        """The posterior row after `context` (text or token ids); an empty context gives the
        unigram row, a context never seen backs off to the longest suffix that was."""
        ids = self.encode(context)
        model = self.prior(prior) if isinstance(prior, str) else prior
        if isinstance(model, KneserNey):
            levels = model.levels(self.index, ids)
        else:
            levels = self.index.levels(ids, max_depth)
        return Row(ids, levels, model.posterior(levels, self.vocab_size), model.name)

    def top(self, row: Row, k: int = 10) -> pd.DataFrame:
        """The k most probable next tokens with their counts at the deepest level."""
        if not 1 <= k <= self.vocab_size:
            raise BayesmatrixError(f"k (--top) must be in 1..{self.vocab_size}, not {k}")
        p = row.predictive
        best = np.argsort(-p)[:k]
        deepest = row.levels[-1] if row.levels else None
        return pd.DataFrame(
            {
                "token_id": best,
                "token": self.tokenizer.batch_decode([[int(i)] for i in best]),
                "count": [deepest.count_of(int(i)) if deepest else 0 for i in best],
                "prob": p[best],
            }
        )

    def sample(
        self,
        context: str | Sequence[int],
        n: int = 20,
        seed: int = 0,
        prior: str = "dirichlet",
        temperature: float = 1.0,
        progress: Callable[[int], None] | None = None,
    ) -> str:
        """Generate n tokens from the matrix's rows (ancestral sampling); returns the text.
        `progress(i)` is called after each token (about a millisecond each)."""
        if not 1 <= n <= MAX_SAMPLE or temperature <= 0:
            raise BayesmatrixError(
                f"n must be in 1..{MAX_SAMPLE:,} (sample longer texts in pieces, each continuing "
                "the last) and temperature > 0"
            )
        if seed < 0:
            raise BayesmatrixError(f"seed must be a non-negative integer, not {seed}")
        ids = self.encode(context)
        rng = np.random.default_rng(seed)
        out: list[int] = []
        for i in range(n):
            p = self.row(ids + out, prior).predictive ** (1.0 / temperature)
            out.append(int(rng.choice(p.size, p=p / p.sum())))
            if progress:
                progress(i + 1)
        return self.tokenizer.decode(out)


def build(
    corpus: Sequence[str | Path],
    tokenizer_name: str,
    out: str | Path,
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    overwrite: bool = False,
    fit_positions: int = 2000,
    progress: Callable[[str], None] | None = None,
    heldout_every: int = 0,
    executor: Executor | None = None,
) -> tuple[IdealMatrix, BuildStats]:
    """Tokenise the corpus with the model's tokenizer, index it, fit the prior; the index
    appears at `out` only once everything succeeded. heldout_every=N leaves every N-th file
    out of the index and writes their text to OUT/heldout.txt, for `compare`.
    With an executor other than the local one, runs of files are tokenised and shards
    indexed as parallel jobs; the files written are those of the serial build."""
    files = corpus_files(list(corpus))
    heldout: list[Path] = []
    if heldout_every:
        if heldout_every < 2 or len(files) < heldout_every:
            raise BayesmatrixError(
                f"heldout_every={heldout_every} needs at least that many files (have "
                f"{len(files)}) and must be >= 2"
            )
        heldout = files[heldout_every - 1 :: heldout_every]
        files = [f for i, f in enumerate(files) if (i + 1) % heldout_every]
    from bayesmatrix.models.hf_load import load_tokenizer

    tokenizer, label = load_tokenizer(tokenizer_name)
    separator = tokenizer.eos_token_id
    if separator is None:
        separator = 0
    builder = IndexBuilder(
        out,
        len(tokenizer),
        label,
        tokenizer_fingerprint(tokenizer),
        int(separator),
        shard_tokens,
        overwrite,
        executor,
    )
    parallel = executor is not None and not isinstance(executor, LocalExecutor)
    try:
        tok_s = idx_s = 0.0
        clock = time.perf_counter()
        documents = (
            parallel_tokenized_documents(files, tokenizer_name, executor)
            if parallel and executor is not None
            else tokenized_documents(files, tokenizer)
        )
        for ids, end in documents:
            mid = time.perf_counter()
            tok_s += mid - clock
            builder.add(ids, end)
            clock = time.perf_counter()
            idx_s += clock - mid
            if progress:
                progress(f"{builder.tokens_added:,} tokens indexed")
        mid = time.perf_counter()
        index = builder.finish()
        idx_s += time.perf_counter() - mid
        mid = time.perf_counter()
        fitted = fit(index, fit_positions, MAX_DEPTH, progress=progress)
        fit_s = time.perf_counter() - mid
        write_json(builder.tmp / "prior.json", asdict(fitted))
        if heldout:
            text = "\n\n".join(read_utf8(f, "corpus file") for f in heldout)
            (builder.tmp / HELDOUT).write_text(text, encoding="utf-8")
        stats = BuildStats(
            index.n_tokens, index.meta["documents"], tok_s, idx_s, fit_s, index.disk_bytes
        )
    except BaseException:
        builder.abort()
        raise
    path = builder.commit()
    return IdealMatrix(path, tokenizer), stats
