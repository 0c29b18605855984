"""Hierarchical priors over the rows of the corpus matrix.

Both turn the counts after each suffix of a context into a Dirichlet posterior whose base
measure is the predictive of the next shorter suffix (down to uniform over the vocabulary):

- `HierarchicalDirichlet` (MacKay & Peto 1995): alpha_k = c_k + a_k p_{k-1}, so
  p_k = (c_k + a_k p_{k-1}) / (C_k + a_k), with prior kappa a_k = a + b T_k (T_k = distinct next
  tokens), a and b fitted by leave-one-out likelihood on corpus positions.
- `KneserNey`: interpolated Kneser-Ney, the hierarchical Pitman-Yor model with strength 0 and one
  table per word type (Teh 2006): alpha_k = max(c_k - d_k, 0) + d_k T_k p_{k-1}, with raw counts at
  the top order and continuation counts below; discounts d_k = n1 / (n1 + 2 n2) (Ney et al.).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from bayesmatrix.bayes import Dirichlet
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.matrix.index import Level, SuffixIndex

PRIORS = ("dirichlet", "kn")


@dataclass(frozen=True)
class HierarchicalDirichlet:
    """Dirichlet back-off; a row with T distinct next tokens hands a + b T pseudo-counts to its
    parent (b = 0 is MacKay & Peto's single kappa; b > 0 lets rows with many types
    trust the parent more, as Witten-Bell does)."""

    a: float = 1.0
    b: float = 0.0
    name: str = "dirichlet"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b)) or self.a <= 0 or self.b < 0:
            raise BayesmatrixError(f"need a > 0 and b >= 0, not a={self.a}, b={self.b}")

    def kappa(self, level: Level) -> float:
        return self.a + self.b * level.types

    def posterior(self, levels: list[Level], vocab: int) -> Dirichlet:
        p = np.full(vocab, 1.0 / vocab)
        alpha = p * self.a
        for level in levels:
            alpha = level.dense(vocab) + self.kappa(level) * p
            p = alpha / alpha.sum()
        return Dirichlet(alpha)


@dataclass(frozen=True)
class KneserNey:
    """Interpolated Kneser-Ney of a fixed order with per-depth discounts."""

    order: int = 5
    discounts: tuple[float, ...] = field(default=(0.75,))
    name: str = "kn"

    def __post_init__(self) -> None:
        if self.order < 1:
            raise BayesmatrixError(f"the Kneser-Ney order must be >= 1, not {self.order}")
        if not self.discounts or not all(0 < d < 1 for d in self.discounts):
            raise BayesmatrixError(f"discounts must lie in (0, 1), not {self.discounts}")

    def discount(self, depth: int) -> float:
        return self.discounts[min(depth, len(self.discounts) - 1)]

    def levels(self, index: SuffixIndex, context: list[int]) -> list[Level]:
        """Raw counts at depth order-1 when the whole context occurs; continuation counts below."""
        top = self.order - 1
        ctx = context[len(context) - top :] if top > 0 else []
        found = index.ranges(ctx, top)  # searched once, shared by every level
        raw = index.levels(ctx, top, found)
        out = [index.continuation(ctx, k, found) for k in range(min(len(raw), top))]
        if len(raw) == top + 1:
            out.append(raw[top])
        return [lv for lv in out if lv.total > 0]

    def posterior(self, levels: list[Level], vocab: int) -> Dirichlet:
        p = np.full(vocab, 1.0 / vocab)
        alpha = p
        for level in levels:
            d = self.discount(level.depth)
            alpha = np.zeros(vocab)
            alpha[level.ids] = np.maximum(level.counts - d, 0.0)
            alpha += d * level.types * p
            p = alpha / alpha.sum()
        return Dirichlet(alpha)


@dataclass(frozen=True)
class SmoothingFit:
    """Hyper-parameters estimated from the corpus, with what they were estimated on."""

    a: float
    b: float
    loo_bits: float
    discounts: tuple[float, ...]
    positions: int


def sample_positions(index: SuffixIndex, n: int, seed: int = 0) -> np.ndarray:
    """Random corpus positions that have at least one token of context in their shard."""
    rng = np.random.default_rng(seed)
    starts = np.array([s for s, _, _ in index.shards])
    pos = np.sort(rng.choice(np.arange(1, index.n_tokens), min(n, index.n_tokens - 1), False))
    shard_start = starts[np.searchsorted(starts, pos, "right") - 1]
    return pos[pos > shard_start]


def fit(
    index: SuffixIndex,
    positions: int = 2000,
    max_depth: int = 16,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> SmoothingFit:
    """Fit the Dirichlet kappa (a, b) by leave-one-out log-likelihood (each sampled token's own
    occurrence removed from every count) and estimate Kneser-Ney discounts from the same sample:
    a position's n-gram has count c with probability c n_c / N, so n1/(n1 + 2 n2) = P1/(P1 + P2)."""
    pos = sample_positions(index, positions, seed)
    if pos.size < 10:
        raise BayesmatrixError("the corpus is too small to fit the prior (fewer than 10 positions)")
    starts = np.array([s for s, _, _ in index.shards])
    rows = []
    memo: dict = {}  # levels by suffix: positions of a repetitive corpus share their contexts
    for i, p in enumerate(pos):
        if progress and i % 100 == 0:
            progress(f"fitting the prior: position {i:,} of {len(pos):,}")
        lo = max(int(starts[np.searchsorted(starts, p, "right") - 1]), int(p) - max_depth)
        target = int(index.tokens[p])
        levels = index.levels(np.asarray(index.tokens[lo:p]), max_depth, memo=memo)
        rows.append([(lv.count_of(target), lv.total, lv.types) for lv in levels])
    depth = max(len(r) for r in rows)
    exists = np.zeros((len(rows), depth), dtype=bool)
    c = np.zeros((len(rows), depth))  # counts with the position's own occurrence removed
    tot = np.zeros((len(rows), depth))
    types = np.zeros((len(rows), depth))
    for i, r in enumerate(rows):
        for k, (ck, tk, ty) in enumerate(r):
            exists[i, k], c[i, k], tot[i, k] = True, ck - 1, tk - 1
            types[i, k] = ty - (ck == 1)
    vocab = index.vocab_size

    def loo_bits(log_ab: np.ndarray) -> float:
        a, b = np.exp(log_ab)
        p = np.full(len(rows), 1.0 / vocab)
        for k in range(depth):
            live = exists[:, k] & (tot[:, k] > 0)
            conc = a + b * types[:, k]
            p = np.where(live, (c[:, k] + conc * p) / (np.maximum(tot[:, k], 0) + conc), p)
        return float(-np.log2(p).mean())

    bounds = [(np.log(1e-4), np.log(1e5))] * 2
    res = minimize(loo_bits, np.log([1.0, 1.0]), method="L-BFGS-B", bounds=bounds)
    # polished to the minimum itself: L-BFGS-B stops within its loose default tolerance at a
    # point that depends on ulp-level differences in log2 between CPUs (a printed a moved from
    # 0.167 to 0.166 across machines); the minimum does not
    res = minimize(
        loo_bits, res.x, method="Nelder-Mead", bounds=bounds,
        options={"xatol": 1e-10, "fatol": 1e-15, "maxiter": 4000},
    )  # fmt: skip
    discounts = []
    for k in range(depth):
        if k < 2:  # unigram and bigram counts of counts are exact, from the count tables
            table = index.unigram if k == 0 else np.asarray(index.bigram_counts)
            ones, twos = np.sum(table == 1), 2 * np.sum(table == 2)
        else:
            ones = np.sum(exists[:, k] & (c[:, k] == 0))
            twos = np.sum(exists[:, k] & (c[:, k] == 1))
        if ones + twos == 0:
            break
        discounts.append(float(np.clip(ones / (ones + twos), 0.05, 0.95)))
    a, b = np.exp(res.x)
    return SmoothingFit(float(a), float(b), float(res.fun), tuple(discounts) or (0.75,), len(rows))
