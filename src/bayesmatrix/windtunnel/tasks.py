"""Wind-tunnel tasks: a sampler and the exact posterior predictive at every position.

Convention: for sequences x [n, T], `predictive(x)` is [n, T, V] with row t the exact
P(x_t = . | x_<t) under the task's generative model (row 0 is the prior predictive). A model
trained on samples can be scored against it in bits, position by position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import logsumexp

from bayesmatrix.bayes import DirichletMixture
from bayesmatrix.bayes.validation import as_alpha
from bayesmatrix.errors import BayesmatrixError


class Task(Protocol):
    """What every task gives: its vocabulary and sequence length, a seeded sampler of [n, T]
    sequences and the exact predictive [n, T, V] of sequences."""

    @property
    def vocab(self) -> int: ...

    @property
    def length(self) -> int: ...

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray: ...

    def predictive(self, x: np.ndarray) -> np.ndarray: ...


def _check(vocab: int, length: int) -> None:
    if vocab < 2:
        raise BayesmatrixError(f"V must be at least 2, got {vocab}")
    if length < 1:
        raise BayesmatrixError(f"sequence length must be positive, got {length}")


@dataclass(frozen=True)
class DirichletCategorical:
    """theta ~ prior (a Dirichlet mixture; one component = a Dirichlet), then T i.i.d. tokens.

    Exact predictive: sum_j w_j(x_<t) (alpha_j + counts) / (sum alpha_j + t), with w_j the
    posterior component weights (prior weight times Polya likelihood of the prefix)."""

    prior: DirichletMixture
    length: int = 32

    @classmethod
    def symmetric(
        cls, vocab: int = 8, alpha: float = 1.0, length: int = 32
    ) -> DirichletCategorical:
        _check(vocab, length)
        return cls(DirichletMixture([1.0], [as_alpha(np.full(vocab, float(alpha)))]), length)

    def __post_init__(self) -> None:
        _check(self.vocab, self.length)

    @property
    def vocab(self) -> int:
        return self.prior.k

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        theta = self.prior.rvs(n, rng)
        u = rng.random((n, self.length, 1))
        return (u > np.cumsum(theta, axis=1)[:, None, :]).sum(-1).clip(0, self.vocab - 1)

    def predictive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        onehot = np.eye(self.vocab)[x]  # [n, T, V]
        counts = np.cumsum(onehot, axis=1) - onehot  # before t
        a = self.prior.alphas  # [m, V]
        a0 = a.sum(1)  # [m]
        t = np.arange(x.shape[1])
        comp = (a[None, None] + counts[:, :, None]) / (
            a0[None, None, :, None] + t[None, :, None, None]
        )
        # log Polya likelihood of each prefix under each component, accumulated sequentially
        step = np.log(np.take_along_axis(comp, x[:, :, None, None].repeat(len(a0), 2), 3)[..., 0])
        before = np.cumsum(step, axis=1) - step  # [n, T, m]
        log_w = np.log(self.prior.weights)[None, None] + before
        w = np.exp(log_w - logsumexp(log_w, axis=2, keepdims=True))
        return np.einsum("ntm,ntmv->ntv", w, comp)


@dataclass(frozen=True)
class DirichletMarkov:
    """In-context Markov chains: each row of a V x V transition matrix ~ Dir(alpha); x_0 is
    uniform, then x_t ~ row x_{t-1}. Exact predictive: (alpha + transitions out of x_{t-1}
    seen so far) / (sum alpha + their number)."""

    vocab: int = 4
    alpha: float = 1.0
    length: int = 32

    def __post_init__(self) -> None:
        _check(self.vocab, self.length)
        as_alpha([self.alpha, self.alpha])

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        rows = rng.dirichlet(np.full(self.vocab, self.alpha), size=(n, self.vocab))
        x = np.empty((n, self.length), dtype=int)
        x[:, 0] = rng.integers(self.vocab, size=n)
        for t in range(1, self.length):
            p = rows[np.arange(n), x[:, t - 1]]
            x[:, t] = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(1).clip(0, self.vocab - 1)
        return x

    def predictive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        n, length = x.shape
        out = np.empty((n, length, self.vocab))
        out[:, 0] = 1.0 / self.vocab
        counts = np.zeros((n, self.vocab, self.vocab))
        idx = np.arange(n)
        for t in range(1, length):
            row = counts[idx, x[:, t - 1]]
            out[:, t] = (self.alpha + row) / (self.alpha * self.vocab + row.sum(1, keepdims=True))
            counts[idx, x[:, t - 1], x[:, t]] += 1
        return out


@dataclass(frozen=True)
class BijectionElimination:
    """A random bijection between V keys (tokens 0..V-1) and V values (tokens V..2V-1),
    revealed as key, value, key, value, ... with keys in random order. Exact predictive:
    at a key position, uniform over keys not yet shown; at a value position, uniform over
    values not yet used (the posterior over bijections is uniform on the consistent ones)."""

    keys: int = 10

    def __post_init__(self) -> None:
        _check(self.keys, 1)

    @property
    def vocab(self) -> int:
        return 2 * self.keys

    @property
    def length(self) -> int:
        return 2 * self.keys

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        x = np.empty((n, self.length), dtype=int)
        for i in range(n):
            x[i, 0::2] = rng.permutation(self.keys)
            x[i, 1::2] = self.keys + rng.permutation(self.keys)
        return x

    def predictive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        n = len(x)
        out = np.zeros((n, self.length, self.vocab))
        for t in range(self.length):
            seen = np.zeros((n, self.vocab), dtype=bool)
            seen[np.arange(n)[:, None], x[:, :t]] = True
            half = slice(0, self.keys) if t % 2 == 0 else slice(self.keys, self.vocab)
            free = ~seen[:, half]
            out[:, t, half] = free / free.sum(1, keepdims=True)
        return out


@dataclass(frozen=True)
class BijectionPeer:
    """The authors' bijection protocol (Agarwal, Dalal & Misra; vishalmisra/bayesian-wind-tunnel,
    configs/bijection_v20.yaml): keys and values share the tokens 0..V-1; a random bijection
    pi; `pairs` keys drawn without replacement, each followed by its value; then a query key
    drawn from the context and its value: k1 pi(k1) ... kL pi(kL) q pi(q). Trained on the value
    positions and the answer only (loss_mask) and scored at the value positions (score_mask),
    where the exact predictive is uniform over the values not yet used (entropy
    log2(V - t) after t pairs); at the answer it is the value already shown for the query."""

    keys: int = 20
    pairs: int = 19

    def __post_init__(self) -> None:
        _check(self.keys, 1)
        if not 1 <= self.pairs <= self.keys:
            raise BayesmatrixError(f"pairs must lie in 1..{self.keys} (the keys), not {self.pairs}")

    @property
    def vocab(self) -> int:
        return self.keys

    @property
    def length(self) -> int:
        return 2 * self.pairs + 2

    @property
    def score_mask(self) -> np.ndarray:
        """The value positions: where the authors' entropy statistic is read."""
        mask = np.zeros(self.length, dtype=bool)
        mask[1 : 2 * self.pairs : 2] = True
        return mask

    @property
    def loss_mask(self) -> np.ndarray:
        """The supervised positions in the authors' training: the values and the answer."""
        mask = self.score_mask.copy()
        mask[-1] = True
        return mask

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        x = np.empty((n, self.length), dtype=int)
        for i in range(n):
            perm = rng.permutation(self.keys)
            keys = rng.permutation(self.keys)[: self.pairs]
            query = keys[rng.integers(self.pairs)]
            x[i, 0 : 2 * self.pairs : 2] = keys
            x[i, 1 : 2 * self.pairs : 2] = perm[keys]
            x[i, -2:] = query, perm[query]
        return x

    def predictive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        n, v, rows = len(x), self.keys, np.arange(len(x))
        out = np.zeros((n, self.length, v))
        for t in range(2 * self.pairs):
            seen = np.zeros((n, v), dtype=bool)
            seen[rows[:, None], x[:, t % 2 : t : 2]] = True  # keys before a key, values before
            free = ~seen  # a value (keys are drawn without replacement, so each is new)
            out[:, t] = free / free.sum(1, keepdims=True)
        shown = np.zeros((n, v), dtype=bool)
        shown[rows[:, None], x[:, 0 : 2 * self.pairs : 2]] = True
        out[:, -2] = shown / self.pairs  # the query: one of the keys in context
        keys, values = x[:, 0 : 2 * self.pairs : 2], x[:, 1 : 2 * self.pairs : 2]
        answer = values[rows, (keys == x[:, -2:-1]).argmax(1)]
        out[rows, -1, answer] = 1.0
        return out


@dataclass(frozen=True)
class HMMFiltering:
    """A fixed hidden Markov model (drawn once from `seed`: sticky transitions, Dirichlet
    emissions); the hidden state is never shown. Exact predictive: the forward algorithm,
    P(x_t | x_<t) = sum_s P(s_t = s | x_<t) B[s, x_t]."""

    states: int = 3
    vocab: int = 6
    length: int = 32
    stay: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.vocab, self.length)
        if self.states < 2 or not 0 <= self.stay < 1:
            raise BayesmatrixError(
                f"an HMM needs >= 2 states and 0 <= stay < 1 (got {self.states}, {self.stay})"
            )

    @property
    def params(self) -> tuple[np.ndarray, np.ndarray]:
        """(transitions [S, S], emissions [S, V])."""
        rng = np.random.default_rng(self.seed)
        off = rng.dirichlet(np.ones(self.states - 1), size=self.states) * (1 - self.stay)
        trans = np.empty((self.states, self.states))
        for s in range(self.states):
            trans[s] = np.insert(off[s], s, self.stay)
        return trans, rng.dirichlet(np.full(self.vocab, 0.5), size=self.states)

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        trans, emit = self.params
        state = rng.integers(self.states, size=n)
        x = np.empty((n, self.length), dtype=int)
        for t in range(self.length):
            if t:
                u = rng.random((n, 1))
                state = (u > np.cumsum(trans[state], axis=1)).sum(1).clip(0, self.states - 1)
            u = rng.random((n, 1))
            x[:, t] = (u > np.cumsum(emit[state], axis=1)).sum(1).clip(0, self.vocab - 1)
        return x

    def predictive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        trans, emit = self.params
        belief = np.full((len(x), self.states), 1.0 / self.states)  # P(s_t | x_<t)
        out = np.empty((len(x), x.shape[1], self.vocab))
        for t in range(x.shape[1]):
            out[:, t] = belief @ emit
            post = belief * emit[:, x[:, t]].T
            belief = (post / post.sum(1, keepdims=True)) @ trans
        return out


@dataclass(frozen=True)
class HMMInContext:
    """The authors' in-context HMM (Agarwal, Dalal & Misra; vishalmisra/bayesian-wind-tunnel,
    src/data/hmm.py): a fresh HMM per sequence (S states, O symbols; transition and emission
    rows from a flat Dirichlet with a floor of 0.05, discretised to hundredths) written into
    the sequence, then K observations, each followed by a query token. The target at each query
    is the hidden-state posterior p(s_t | o_<=t) from the forward filter with the written
    parameters (uniform initial state), so the model must infer in context. Tokens: 0..100 the
    probabilities in hundredths, then the O symbols, the query token, and the S state tokens
    (the query's answer is a distribution over the state tokens: trained with soft targets)."""

    states: int = 5
    symbols: int = 5
    steps: int = 15
    floor: float = 0.05

    def __post_init__(self) -> None:
        if self.states < 2 or self.symbols < 2 or self.steps < 1:
            raise BayesmatrixError("an in-context HMM needs >= 2 states, >= 2 symbols, >= 1 step")
        if not 0 <= self.floor * max(self.states, self.symbols) < 1:
            raise BayesmatrixError(f"floor {self.floor} leaves no room in a row")

    @property
    def query(self) -> int:
        return 101 + self.symbols

    @property
    def vocab(self) -> int:
        return 101 + self.symbols + 1 + self.states

    @property
    def header(self) -> int:
        return self.states * (self.states + self.symbols)

    @property
    def length(self) -> int:
        return self.header + 2 * self.steps

    @property
    def score_mask(self) -> np.ndarray:
        mask = np.zeros(self.length, dtype=bool)
        mask[self.header + 1 :: 2] = True
        return mask

    loss_mask = score_mask
    soft_targets = True

    def _matrix(self, rng: np.random.Generator, cols: int) -> np.ndarray:
        """Rows from a flat Dirichlet, floored, in whole hundredths summing to 100."""
        floor = round(self.floor * 100)
        out = np.empty((self.states, cols), dtype=int)
        for i in range(self.states):
            raw = np.maximum(rng.dirichlet(np.ones(cols)), self.floor)
            cents = np.maximum(np.rint(raw / raw.sum() * 100).astype(int), floor)
            while cents.sum() != 100:  # move single hundredths, never below the floor
                j = np.argmax(cents) if cents.sum() > 100 else np.argmin(cents)
                cents[j] += 1 if cents.sum() < 100 else -1
            out[i] = cents
        return out

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        x = np.empty((n, self.length), dtype=int)
        for i in range(n):
            trans, emit = self._matrix(rng, self.states), self._matrix(rng, self.symbols)
            x[i, : self.header] = np.concatenate([trans.ravel(), emit.ravel()])
            s = int(rng.integers(self.states))
            for t in range(self.steps):
                if t:
                    s = int(rng.choice(self.states, p=trans[s] / 100))
                x[i, self.header + 2 * t] = 101 + rng.choice(self.symbols, p=emit[s] / 100)
            x[i, self.header + 1 :: 2] = self.query
        return x

    def parameters(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The transition [n, S, S] and emission [n, S, O] matrices written in sequences x."""
        s, o = self.states, self.symbols
        head = np.asarray(x)[:, : self.header] / 100.0
        return head[:, : s * s].reshape(-1, s, s), head[:, s * s :].reshape(-1, s, o)

    def predictive(self, x: np.ndarray) -> np.ndarray:
        """At each query: the forward filter's p(s_t | o_<=t) over the state tokens. Elsewhere
        the row is one-hot on the token that comes (those rows are neither trained nor
        scored: the parameters' and observations' own predictives are not the target)."""
        x = np.asarray(x)
        n = len(x)
        out = np.zeros((n, self.length, self.vocab))
        out[np.arange(n)[:, None], np.arange(self.length)[None], x] = 1.0
        trans, emit = self.parameters(x)
        belief = np.full((n, self.states), 1.0 / self.states)  # p(s_t | o_<t)
        for t in range(self.steps):
            obs = x[:, self.header + 2 * t] - 101
            post = belief * emit[np.arange(n), :, obs]
            post /= post.sum(1, keepdims=True)
            row = self.header + 2 * t + 1
            out[:, row] = 0.0
            out[:, row, 101 + self.symbols + 1 :] = post
            belief = np.einsum("ns,nst->nt", post, trans)
        return out


TASKS: dict[str, Callable[..., Task]] = {
    "dirichlet": DirichletCategorical.symmetric,
    "markov": DirichletMarkov,
    "bijection": BijectionElimination,
    "bijection-peer": BijectionPeer,
    "hmm": HMMFiltering,
    "hmm-incontext": HMMInContext,
}


def make_task(name: str, **kwargs: object) -> Task:
    """A task by name: dirichlet (vocab, alpha, length), markov (vocab, alpha, length),
    bijection (keys), bijection-peer (keys, pairs), hmm (states, vocab, length, stay, seed),
    hmm-incontext (states, symbols, steps, floor)."""
    if name not in TASKS:
        raise BayesmatrixError(f"unknown wind-tunnel task '{name}'; choose from {', '.join(TASKS)}")
    try:
        return TASKS[name](**kwargs)
    except TypeError as exc:
        raise BayesmatrixError(f"bad settings for task '{name}': {exc}") from None
