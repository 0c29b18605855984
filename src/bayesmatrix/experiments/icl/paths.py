"""The martingale test of Falck, Wang & Holmes (2024) on the model's own sampled continuations.

Exchangeable data: coin flips with a hidden bias, written "Coin flips: 1, 0, 0, 1," (the
prompt states nothing else). From the observed n flips the model's predictive p_n = P(next is
1) is read, then J paths of m further flips are sampled from the model itself (each flip drawn
from its predictive renormalised over the two digits, the raw mass kept as a check). For a
Bayesian learner the predictive is a martingale along its own paths: E[p_n+m] = p_n and
E[z_n+i] = p_n for every i. The paths' spread of p_n+m is the learner's epistemic uncertainty
(predictive resampling, the martingale posterior of Fong, Holmes & Walker 2023); for a Bayesian
learner it shrinks with n like the Beta-Bernoulli posterior's.

Test statistics (as we implement the paper's checks; its exact statistics are not reproduced
verbatim): per (bias, n, seed) cell, the flip at the horizon of each independent path is exactly
Bernoulli(E[p_n+m-1]), which the martingale property makes Bernoulli(p_n); so the number of
ones among the paths' last flips is Binomial(paths, p_n) under the null: an exact binomial test,
valid however confident the predictive is (a t-test over paths is not: a confident learner's
balancing jumps are rare). A cell rejects at alpha = 0.05 after Holm's correction over all
cells. The size of any violation is the drift, the mean over paths of p_n+m - p_n: its root
mean square over cells with each cell's sampling variance taken out (so a noisy martingale
scores 0, not its noise), with a bootstrap interval over cells, must lie below
DRIFT_TOLERANCE. The uncertainty check compares the exponent of var(p_n+m) against n with the
exact uniform-prior Beta-Bernoulli learner's on the same observed flips and horizon. This is
not the one-step check of icl_martingale (which reads a_k and E[a_k+1] on the ICL task without
sampling); both are reported, under their names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from bayesmatrix.bayes.dirichlet import beta_bernoulli_predictive
from bayesmatrix.bayes.stats import binomial_p, bootstrap_mean_ci, holm, log_slope
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.cells import Cell, Cells
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Status, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

HEAD = "Coin flips:"
SYMBOLS = ("0", "1")
ALPHA = 0.05
DRIFT_TOLERANCE = 0.05  # RMS over cells of E[p_n+m] - p_n must lie below this (probability)
RATE_BAND = 0.25  # the exponent of var(p_n+m) against n within this of the Bayesian learner's
DRIFT = Rule(
    "the RMS drift E[p_n+m] - p_n over cells", below=DRIFT_TOLERANCE, id="martingale-paths.drift"
)
RATE = Rule(
    "the exponent of var(p_n+m) against n",
    within=RATE_BAND,
    centre="the uniform-prior Beta-Bernoulli learner's on the same flips",
    id="martingale-paths.rate",
)
LOW_MASS = 0.5  # a warning when the digits carry less raw probability than this on a path


class PathSampler(Protocol):
    """A learner that predicts the next flip and is extended by its own samples."""

    def start(self, observed: Sequence[int], paths: int) -> np.ndarray:
        """[paths] P(next = 1) after the observed flips (identical rows)."""
        ...

    def step(self, flips: np.ndarray) -> np.ndarray:
        """Append one flip per path; return [paths] P(next = 1)."""
        ...


@dataclass
class BetaBernoulliSampler:
    """The exact Bayesian learner: Beta(a, b) prior, posterior-mean predictive."""

    a: float = 1.0
    b: float = 1.0

    def start(self, observed: Sequence[int], paths: int) -> np.ndarray:
        self.ones = np.full(paths, float(np.sum(observed)))
        self.seen = float(len(observed))
        return self._p()

    def step(self, flips: np.ndarray) -> np.ndarray:
        self.ones, self.seen = self.ones + flips, self.seen + 1
        return self._p()

    def _p(self) -> np.ndarray:
        return beta_bernoulli_predictive(self.ones, self.seen, self.a, self.b)


@dataclass
class WindowSampler:
    """Laplace counts over the last `window` flips only: a recency learner that is not a
    martingale (dropping an old flip moves the predictive in a predictable direction)."""

    window: int = 8

    def start(self, observed: Sequence[int], paths: int) -> np.ndarray:
        self.history = np.tile(np.asarray(observed, dtype=float), (paths, 1))
        return self._p()

    def step(self, flips: np.ndarray) -> np.ndarray:
        self.history = np.column_stack([self.history, flips])
        return self._p()

    def _p(self) -> np.ndarray:
        last = self.history[:, -self.window :]
        return (1 + last.sum(axis=1)) / (2 + last.shape[1])


@dataclass
class SmootherSampler:
    """p <- p + rate (z - p): exponential forgetting with a constant step. Along its own
    samples it IS a martingale, but its uncertainty does not shrink with n."""

    rate: float = 0.2

    def start(self, observed: Sequence[int], paths: int) -> np.ndarray:
        p = 0.5
        for z in observed:
            p += self.rate * (z - p)
        self.p = np.full(paths, p)
        return self.p.copy()

    def step(self, flips: np.ndarray) -> np.ndarray:
        self.p = self.p + self.rate * (flips - self.p)
        return self.p.copy()


class LMSampler:
    """A language model reading and extending "Coin flips: 1, 0, ..." on a shared KV cache;
    each flip is drawn from its next-token row renormalised over the two digit tokens."""

    def __init__(self, lm: LanguageModel, head: str = HEAD) -> None:
        self.lm, self.head = lm, head
        units = {s: lm.encode(f" {s},") for s in SYMBOLS}
        common = 0
        while units["0"][common] == units["1"][common]:
            common += 1
        self.common = units["0"][:common]
        self.digits = [units[s][common] for s in SYMBOLS]
        self.sep = units["0"][common + 1 :]
        if units["1"][common + 1 :] != self.sep:
            raise BayesmatrixError(
                f"{lm.name} tokenises ' 0,' and ' 1,' differently after the digit"
            )
        self.mass: list[np.ndarray] = []

    def ids(self, observed: Sequence[int]) -> list[int]:
        """The prompt's token ids, ending where the next digit's token comes; checked against
        tokenising the whole prompt at once."""
        text = self.head + "".join(f" {int(z)}," for z in observed)
        ids = self.lm.encode(self.head)
        for z in observed:
            ids += [*self.common, self.digits[int(z)], *self.sep]
        if ids != self.lm.encode(text):
            raise BayesmatrixError(
                f"{self.lm.name} does not tokenise '{text[:40]}...' flip by flip; the coin-flip "
                "prompt needs each ' d,' to be its own tokens"
            )
        return self.lm.with_bos(ids) + self.common

    def start(self, observed: Sequence[int], paths: int) -> np.ndarray:
        self.stream = self.lm.stream(self.ids(observed), paths, tokens=self.digits)
        self.mass = []
        return self._p(self.stream.logprobs)

    def step(self, flips: np.ndarray) -> np.ndarray:
        digit = np.asarray(self.digits)[flips.astype(int)]
        rest = [*self.sep, *self.common]
        tokens = np.column_stack([digit, np.tile(rest, (len(flips), 1))]).astype(np.int64)
        return self._p(self.stream.feed(tokens))

    def _p(self, logprobs: Any) -> np.ndarray:
        """P(1) renormalised over the two digits, from [paths, V] log-probabilities (a torch
        tensor from transformers, numpy from learners and servers)."""
        chosen = logprobs[:, self.digits]
        if hasattr(chosen, "cpu"):  # a torch tensor (transformers); learners give numpy
            chosen = chosen.double().cpu().numpy()
        two = np.exp(np.asarray(chosen, dtype=float))
        self.mass.append(two.sum(axis=1))
        return two[:, 1] / two.sum(axis=1)


def sample_paths(
    sampler: PathSampler,
    observed: Sequence[int] | np.ndarray,
    paths: int,
    horizon: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """[paths, horizon + 1] predictives (column 0: after the observed flips) and [paths,
    horizon] flips, each flip drawn from the sampler's own predictive."""
    if paths < 2 or horizon < 1:
        raise BayesmatrixError("the martingale test needs at least 2 paths and a horizon >= 1")
    rng = np.random.default_rng([seed, 5])
    probs = np.empty((paths, horizon + 1))
    flips = np.empty((paths, horizon))
    probs[:, 0] = sampler.start([int(z) for z in observed], paths)
    for t in range(horizon):
        flips[:, t] = rng.random(paths) < probs[:, t]
        probs[:, t + 1] = sampler.step(flips[:, t])
    return probs, flips


def observed_flips(theta: float, n: int, seed: int) -> np.ndarray:
    """n coin flips with bias theta, seeded by (seed, n, theta)."""
    rng = np.random.default_rng([seed, n, round(theta * 1e6)])
    return (rng.random(n) < theta).astype(int)


def run_paths(
    sampler: PathSampler,
    model: str,
    thetas: Sequence[float],
    ns: Sequence[int],
    seeds: Sequence[int],
    paths: int,
    horizon: int,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """One row per (theta, n, seed, path): the predictive now and after `horizon` sampled
    flips, the mean and the last sampled flip, the least raw digit mass on the path (LM
    samplers; 1 for learners), and the whole predictive path. With `out`, each (theta, n,
    seed) cell is written there as it finishes and reused by a rerun (a killed run resumes)."""
    cells = [
        Cell(
            (f"theta{theta:g}-n{n}-seed{seed}",),
            f"{model} bias {theta:g} n={n} seed {seed}",
            _paths_cell,
            (sampler, model, theta, n, seed, paths, horizon),
        )
        for theta in thetas
        for n in ns
        for seed in seeds
    ]
    if out is None:
        return pd.concat([c.fn(*c.args) for c in cells], ignore_index=True)
    return pd.concat(Cells(Path(out), force).map(cells, progress=progress), ignore_index=True)


def _paths_cell(
    sampler: PathSampler, model: str, theta: float, n: int, seed: int, paths: int, horizon: int
) -> pd.DataFrame:
    obs = observed_flips(theta, n, seed)
    probs, flips = sample_paths(sampler, obs, paths, horizon, seed)
    mass = getattr(sampler, "mass", None)
    low = np.min(mass, axis=0) if mass else np.ones(paths)
    return pd.DataFrame(
        {
            "model": model, "theta": theta, "n": n, "seed": seed, "path": np.arange(paths),
            "ones": int(obs.sum()), "horizon": horizon,
            "p_now": probs[:, 0], "p_end": probs[:, -1],
            "flips_mean": flips.mean(axis=1), "last_flip": flips[:, -1].astype(int),
            "min_mass": low.astype(float), "probs": list(probs),
        }
    )  # fmt: skip


# ---- statistics --------------------------------------------------------------------------------
CELL = ["model", "theta", "n", "seed"]


def reference_variance(ones: int, n: int, horizon: int, a: float = 1.0, b: float = 1.0) -> float:
    """var(p_n+m) along the exact Beta(a, b)-Bernoulli learner's own paths: the posterior
    variance times m / (a + b + n + m) (a Polya urn run m more steps)."""
    big, al, be = a + b + n, a + ones, b + n - ones
    return al * be / (big**2 * (big + 1)) * horizon / (big + horizon)


def cell_tests(paths: pd.DataFrame) -> pd.DataFrame:
    """Per (model, theta, n, seed): the drift of the predictive, the exact binomial test of
    the last sampled flips against p_n with its Holm rejection, and the paths' variance of
    p_n+m beside the Bayesian learner's."""
    rows = []
    for key, g in paths.groupby(CELL, sort=False):
        p_now = float(g["p_now"].iloc[0])
        rows.append(
            dict(zip(CELL, key, strict=True))
            | {
                "paths": len(g),
                "p_now": p_now,
                "drift": (g["p_end"] - p_now).mean(),
                "drift_se2": g["p_end"].var(ddof=1) / len(g),
                "flip_drift": (g["flips_mean"] - p_now).mean(),
                "last_ones": int(g["last_flip"].sum()),
                "p_value": binomial_p(g["last_flip"].sum(), len(g), p_now),
                "variance": g["p_end"].var(ddof=1),
                "reference_variance": reference_variance(
                    int(g["ones"].iloc[0]), int(key[2]), int(g["horizon"].iloc[0])
                ),
                "min_mass": g["min_mass"].min(),
            }
        )
    frame = pd.DataFrame(rows)
    frame["reject"] = holm(frame["p_value"].to_numpy())
    return frame


def rate_exponent(
    paths: pd.DataFrame, bootstrap: int = 200, seed: int = 0
) -> tuple[float, float, float, float]:
    """The exponent of the mean (over biases and seeds) var(p_n+m) against n, a 95% interval
    from resampling paths within cells, and the Bayesian learner's exponent on the same data."""
    cells = list(paths.groupby(CELL, sort=False))
    ns = np.array([key[2] for key, _ in cells], dtype=float)
    grid = np.unique(ns)
    if len(grid) < 2:
        return (float("nan"),) * 4

    def exponent(variances: np.ndarray) -> float:
        means = np.array([variances[ns == n].mean() for n in grid])
        return log_slope(grid, means) if np.all(means > 0) else float("nan")

    ends = [g["p_end"].to_numpy() for _, g in cells]
    point = exponent(np.array([e.var(ddof=1) for e in ends]))
    ref = exponent(
        np.array(
            [
                reference_variance(int(g["ones"].iloc[0]), int(k[2]), int(g["horizon"].iloc[0]))
                for k, g in cells
            ]
        )
    )
    rng = np.random.default_rng(seed)
    draws = [
        exponent(np.array([e[rng.integers(len(e), size=len(e))].var(ddof=1) for e in ends]))
        for _ in range(bootstrap)
    ]
    draws = [d for d in draws if np.isfinite(d)]
    lo, hi = np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"),) * 2
    return point, float(lo), float(hi), ref


@dataclass
class MartingalePathsResult(FrameResult):
    """Sampled paths: one row per (model, theta, n, seed, path)."""

    SCHEMA: ClassVar[Schema] = {
        "paths": {
            "model": "O", "theta": "f", "n": "i", "seed": "i", "path": "i", "ones": "i",
            "horizon": "i", "p_now": "f", "p_end": "f", "last_flip": "i", "min_mass": "f",
            "probs": "O",
        }
    }  # fmt: skip

    paths: pd.DataFrame
    bootstrap: int = 200

    @property
    def frame(self) -> pd.DataFrame:
        return self.paths

    def tests(self) -> pd.DataFrame:
        return cell_tests(self.paths)

    def verdicts(self) -> list[Verdict]:
        out = []
        for _, g in self.paths.groupby("model", sort=False):
            out += paths_verdicts(g, self.bootstrap)
        return out


def paths_verdicts(paths: pd.DataFrame, bootstrap: int = 200) -> list[Verdict]:
    """Two verdicts for one model: the martingale property on its own sampled paths (no cell
    rejects after Holm and the mean |drift| lies below DRIFT_TOLERANCE), and the uncertainty
    shrinking at the Bayesian rate (exponent within RATE_BAND of the Beta-Bernoulli one)."""
    model = paths["model"].iloc[0]
    tests = cell_tests(paths)
    cells, horizon = len(tests), int(paths["horizon"].iloc[0])
    excess = (tests["drift"] ** 2 - tests["drift_se2"]).to_numpy()
    size, lo, hi = (
        float(np.sqrt(max(v, 0.0))) for v in bootstrap_mean_ci(excess, n_boot=max(bootstrap, 1))
    )
    rejected = int(tests["reject"].sum())
    worst = tests.loc[tests["p_value"].idxmin()]
    warn = ""
    if tests["min_mass"].min() < LOW_MASS:
        warn = (
            f"; WARNING: the two digits carried as little as {tests['min_mass'].min():.2f} of "
            "the raw probability on some path (renormalised before sampling)"
        )
    text = (
        f"{cells} cells (bias x n x seed), {int(tests['paths'].min())} paths of {horizon} "
        f"sampled flips each: RMS drift E[p_n+m] - p_n (sampling noise removed) {size:.4f} "
        f"[{lo:.4f}, {hi:.4f}] "
        f"(tolerance {DRIFT_TOLERANCE}); {rejected}/{cells} cells reject E[z_n+m] = p_n (exact "
        f"binomial test of the last flips, Holm at {ALPHA}); smallest p-value "
        f"{worst['p_value']:.2g} (bias {worst['theta']:g}, n={int(worst['n'])}: "
        f"{int(worst['last_ones'])}/{int(worst['paths'])} ones against p_n = {worst['p_now']:.3f})"
        f"{warn}"
    )
    holm_status: Status = "not supported" if rejected else "supported"
    claim = f"Predictives of {model} are martingales along its own sampled coin-flip paths"
    first = Verdict.from_rules(
        claim,
        text + " (Falck et al.'s test on sampled paths, not the one-step ICL check)",
        [holm_status, DRIFT.status(lo, hi)],
        subject=model,
        **DRIFT.record(size, lo, hi),
    )
    return [first, _rate_verdict(paths, tests, model, bootstrap)]


def _rate_verdict(paths: pd.DataFrame, tests: pd.DataFrame, model: str, bootstrap: int) -> Verdict:
    """Does var(p_n+m) over the paths shrink with n like the Bayesian learner's?"""
    exp, e_lo, e_hi, ref = rate_exponent(paths, bootstrap)
    by_n = tests.groupby("n")[["variance", "reference_variance"]].mean()
    ratios = ", ".join(
        f"n={int(n)}: {r.variance:.2g} vs {r.reference_variance:.2g}" for n, r in by_n.iterrows()
    )
    return Verdict.from_rules(
        f"The epistemic uncertainty of {model} on coin flips shrinks at the Bayesian rate",
        f"var(p_n+m) over paths ~ n^{exp:.2f} [{e_lo:.2f}, {e_hi:.2f}] against the uniform-prior "
        f"Beta-Bernoulli learner's n^{ref:.2f} on the same flips (band {RATE_BAND}); variance "
        f"by n, model vs Bayesian learner: {ratios}",
        [RATE.status(e_lo, e_hi, centre=ref)],
        subject=model,
        **RATE.record(exp, e_lo, e_hi),
    )
