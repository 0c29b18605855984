"""Order effects in in-context learning (after Chlon et al. 2025): exchangeable in realisation,
or only in expectation over orderings?

For an exchangeable (Bayesian) learner the predictive for a held-out query given n
demonstrations, and the code length of those n labels, do not depend on the order the
demonstrations are shown in. Positional encodings break that, so Chlon et al. argue the right
object is the average over orderings: the gap between one ordering (the realisation) and the
average (the expectation) should fall with n, and averaging k orderings shrinks the spread at
about k^(-1/2). Each ordering is one forward pass (the query rides at the end of the same
context), so K orderings at each of the n in `ns` cost K x len(ns) passes per cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.learners import BetaBernoulliLearner, LearnerFit
from bayesmatrix.bayes.stats import bootstrap_mean_ci, log_slope
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.icl.sweep import Condition, check_cell, read_task
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.tasks import Task
    from bayesmatrix.models import LanguageModel

NS = (4, 8, 16, 32)
ORDERINGS = 8
KEYS = ["model", "task", "condition"]
# after averaging K orderings, the query predictive's remaining order spread (sd / sqrt(K))
# must lie below this (probability units) for "exchangeable after averaging"
AVERAGED_SPREAD = 0.01
GAP_FALLS = Rule(
    "the exponent of the expectation-realisation gap against n", below=0, id="icl-order.gap"
)
AVERAGED = Rule(
    "the spread left after averaging K orderings", below=AVERAGED_SPREAD, id="icl-order.averaged"
)
EXACT = 1e-12  # gaps below this are float noise: the learner has no order effect at all

# demos (input, shown label) in order -> [len, L] label distributions before each label
Predict = Callable[[Sequence[tuple[str, str]]], np.ndarray]


def _fitted(learner: BetaBernoulliLearner) -> LearnerFit:
    """A learner's fit, which `fit` has just made."""
    assert learner.fit_ is not None
    return learner.fit_


def ordering_readings(
    predict: Predict,
    labels: Sequence[str],
    demos: Sequence[tuple[str, str]],
    query: tuple[str, str],
    ns: Sequence[int] = NS,
    orderings: int = ORDERINGS,
    seed: int = 0,
    truth: Sequence[str] | None = None,
) -> pd.DataFrame:
    """For each n in ns and each of `orderings` random orderings of demos[:n] (ordering 0 is
    the order given), one call of predict on the ordering followed by the query. Rows: n,
    ordering, p_query (probability of the query's label), code_bits (mean -log2 probability
    of each shown label, bits per demonstration), and the curve a Beta-Bernoulli fit reads, as
    the ICL claim reads it: p_true, the probability of each demonstration's true label before
    it is shown, and outcome, whether the shown label is the true one (truth: each demo's true
    label; default labels[0] for all, i.e. the curve of the first label and its counts)."""
    if orderings < 2:
        raise BayesmatrixError("order effects need at least 2 orderings")
    if not ns or min(ns) < 1 or max(ns) > len(demos):
        raise BayesmatrixError(f"ns must lie in 1..{len(demos)} (the demonstrations given)")
    rng = np.random.default_rng([seed, 11])
    index = {label: i for i, label in enumerate(labels)}
    truth = [labels[0]] * len(demos) if truth is None else list(truth)
    rows = []
    for n in sorted(set(ns)):
        for o in range(orderings):
            perm = np.arange(n) if o == 0 else rng.permutation(n)
            shown = [demos[i] for i in perm]
            probs = np.asarray(predict([*shown, query]), dtype=float)
            seen = np.array([index[y] for _, y in shown])
            true = np.array([index[truth[i]] for i in perm])
            p_seen = probs[np.arange(n), seen]
            rows.append(
                {
                    "n": n,
                    "ordering": o,
                    "p_query": float(probs[n, index[query[1]]]),
                    "code_bits": float(-np.log2(np.clip(p_seen, 1e-300, 1)).mean()),
                    "p_true": probs[np.arange(n), true].tolist(),
                    "outcome": (seen == true).astype(float).tolist(),
                }
            )
    return pd.DataFrame(rows)


def order_cell(
    lm: LanguageModel,
    task: Task,
    condition: Condition,
    seed: int,
    ns: Sequence[int] = NS,
    orderings: int = ORDERINGS,
) -> pd.DataFrame:
    """One (model, task, condition, seed) cell: max(ns) demonstrations and a held-out query
    drawn as the ICL sweep draws them, read under `orderings` orderings at every n."""
    n = max(ns)
    check_cell(task, condition, n + 1)
    rng = np.random.default_rng([seed, 2024])
    order = rng.permutation(len(task.examples))[: n + 1]
    inputs = [task.examples[i][0] for i in order]
    true = [task.examples[i][1] for i in order]
    shown = condition.shown_labels(task, true[:-1], rng)
    words = condition.label_words(task)
    columns = [f"p_{name}" for name in task.labels]

    def predict(demos: Sequence[tuple[str, str]]) -> np.ndarray:
        return read_task(lm, task, demos, words)[columns].to_numpy()

    frame = ordering_readings(
        predict,
        task.labels,
        list(zip(inputs[:-1], shown, strict=True)),
        (inputs[-1], true[-1]),
        ns,
        orderings,
        seed,
        truth=true[:-1],
    )
    keys = {"model": lm.name, "task": task.name, "condition": condition.tag, "seed": seed}
    return frame.assign(**keys)[[*keys, *frame.columns]]


# ---- analysis --------------------------------------------------------------------------------
def order_gaps(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, condition, seed, n): the expectation (mean over orderings) and the
    expectation-realisation gaps (mean |ordering - mean|) of the query predictive and of the
    code length, and the spread (sd over orderings) of the query predictive."""
    group = readings.groupby([*KEYS, "seed", "n"], sort=False)
    return group.apply(_gap_row, include_groups=False).reset_index()


def _gap_row(g: pd.DataFrame) -> pd.Series:
    q, c = g["p_query"].to_numpy(), g["code_bits"].to_numpy()
    return pd.Series(
        {
            "orderings": len(g),
            "p_query_mean": q.mean(),
            "gap_p": np.abs(q - q.mean()).mean(),
            "spread_p": q.std(ddof=1),
            "code_bits_mean": c.mean(),
            "gap_bits": np.abs(c - c.mean()).mean(),
        }
    )


def gap_trend(
    gaps: pd.DataFrame, bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """The exponent of the mean gap (over seeds) against n, with a 95% bootstrap interval
    over seeds; NaN when a mean gap is zero (no order effect to trend) or one seed only."""
    table = gaps.pivot_table(index="seed", columns="n", values="gap_p")
    ns, values = table.columns.to_numpy(float), table.to_numpy()
    means = values.mean(axis=0)
    if len(ns) < 2 or np.any(means <= EXACT):
        return float("nan"), float("nan"), float("nan")
    point = log_slope(ns, means)
    if len(values) < 2 or bootstrap < 1:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        m = values[rng.integers(len(values), size=len(values))].mean(axis=0)
        if np.all(m > EXACT):
            draws.append(log_slope(ns, m))
    lo, hi = np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"),) * 2
    return point, float(lo), float(hi)


def averaging_curve(readings: pd.DataFrame) -> pd.DataFrame:
    """The spread of a k-ordering average of the query predictive against k, at the largest
    n: disjoint groups of k orderings per seed, each group's mean against the seed's mean of
    all orderings; rows (model, task, condition, k, spread, groups). Independent orderings
    give spread ~ k^(-1/2) times a finite-population factor sqrt((K - k) / (K - 1))."""
    rows = []
    for key, g in readings.groupby(KEYS, sort=False):
        top = g[g["n"] == g["n"].max()]
        k_all = int(top.groupby("seed").size().min())
        for k in (2**i for i in range(int(np.log2(k_all)))):
            dev = []
            for _, s in top.groupby("seed"):
                q = s["p_query"].to_numpy()[: k_all - k_all % k]
                dev.extend(q.reshape(-1, k).mean(axis=1) - q.mean())
            rows.append({**dict(zip(KEYS, key, strict=True)), "k": k, "groups": len(dev)} | {
                "spread": float(np.sqrt(np.mean(np.square(dev)))),
                "expected": float(_finite_population(k, k_all)),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _finite_population(k: int, total: int) -> float:
    """sqrt((K - k) / (K - 1)) / sqrt(k): the spread of a k-average of K exchangeable draws
    (relative to one draw's spread), around the mean of all K."""
    return float(np.sqrt((total - k) / (total - 1) / k)) if total > 1 else float("nan")


def ordering_kappas(readings: pd.DataFrame, bootstrap: int = 100) -> pd.DataFrame:
    """Beta-Bernoulli prior strength (prior mean fitted with it) per ordering at the largest
    n, and pooled over all orderings (the permutation-averaged fit, interval over orderings
    and seeds); rows (model, task, condition, ordering or 'pooled', kappa, lo, hi, r2)."""
    rows = []
    for key, g in readings.groupby(KEYS, sort=False):
        top = g[g["n"] == g["n"].max()]
        q = np.clip(np.stack(top["p_true"].to_numpy()), 1e-4, 1 - 1e-4)
        o = np.stack(top["outcome"].to_numpy())
        base = dict(zip(KEYS, key, strict=True))
        for o_id, grp in top.groupby("ordering"):
            idx = top.index.get_indexer(grp.index)
            fit = _fitted(BetaBernoulliLearner().fit(q[idx], o[idx], fit_mean=True, bootstrap=0))
            rows.append(base | {"ordering": str(o_id), "kappa": fit.params["kappa"]} | {
                "lo": float("nan"), "hi": float("nan"), "r2": fit.r2,
            })  # fmt: skip
        fit = _fitted(BetaBernoulliLearner().fit(q, o, fit_mean=True, bootstrap=bootstrap))
        lo, hi = fit.ci.get("kappa", (float("nan"), float("nan")))
        rows.append(base | {"ordering": "pooled", "kappa": fit.params["kappa"]} | {
            "lo": lo, "hi": hi, "r2": fit.r2,
        })  # fmt: skip
    return pd.DataFrame(rows)


@dataclass
class OrderResult(FrameResult):
    """Readings of K orderings per (model, task, condition, seed, n); gaps, trends and kappas
    are derived from them."""

    SCHEMA: ClassVar[Schema] = {
        "readings": {
            "model": "O", "task": "O", "condition": "O", "seed": "i", "n": "i", "ordering": "i",
            "p_query": "f", "code_bits": "f", "p_true": "O", "outcome": "O",
        }
    }  # fmt: skip

    readings: pd.DataFrame
    bootstrap: int = 100

    @property
    def frame(self) -> pd.DataFrame:
        return self.readings

    def gaps(self) -> pd.DataFrame:
        return order_gaps(self.readings)

    def verdicts(self) -> list[Verdict]:
        gaps = self.gaps()
        curve = averaging_curve(self.readings)
        kappas = ordering_kappas(self.readings, self.bootstrap)
        out = []
        for key, g in gaps.groupby(KEYS, sort=False):
            sel = dict(zip(KEYS, key, strict=True))
            c = curve.loc[(curve[KEYS] == pd.Series(sel)).all(axis=1)]
            k = kappas.loc[(kappas[KEYS] == pd.Series(sel)).all(axis=1)]
            out.append(order_verdict(g, c, k, self.bootstrap))
        return out


def order_verdict(
    gaps: pd.DataFrame, curve: pd.DataFrame, kappas: pd.DataFrame, bootstrap: int = 1000
) -> Verdict:
    """'Exchangeable after averaging' for one (model, task, condition): supported when the
    expectation-realisation gap falls with n (exponent's interval below 0) and the spread left
    after averaging all K orderings (sd / sqrt(K) at the largest n) lies below AVERAGED_SPREAD;
    not supported when either lies wholly on the other side. A learner with no order effect at
    all (every gap below float noise) is exchangeable outright: supported."""
    model, task, cond = (gaps[c].iloc[0] for c in KEYS)
    claim = f"ICL of {model} on {task} ({cond}) is exchangeable after averaging over orderings"
    top = gaps[gaps["n"] == gaps["n"].max()]
    n_max, k_all = int(top["n"].iloc[0]), int(top["orderings"].min())
    gap, lo, hi = bootstrap_mean_ci(top["gap_p"].to_numpy(), n_boot=max(bootstrap, 1))
    left = top["spread_p"].to_numpy() / np.sqrt(k_all)
    res, r_lo, r_hi = bootstrap_mean_ci(left, n_boot=max(bootstrap, 1))
    per_n = ", ".join(f"n={int(n)}: {v:.4f}" for n, v in gaps.groupby("n")["gap_p"].mean().items())
    pooled = kappas[kappas["ordering"] == "pooled"].iloc[0]
    each = kappas[kappas["ordering"] != "pooled"]
    useful = each[each["r2"] > 0]["kappa"]
    kappa = (
        f"kappa per ordering {useful.min():.3g}..{useful.max():.3g} (median "
        f"{useful.median():.3g}) in the {len(useful)} of {len(each)} orderings whose "
        "Beta-Bernoulli fit beats a constant"
        if len(useful)
        else f"no ordering's Beta-Bernoulli fit beats a constant (R^2 <= 0 in all {len(each)})"
    )
    pooled_text = f"{pooled['kappa']:.3g} [{pooled['lo']:.3g}, {pooled['hi']:.3g}] (R^2 "
    pooled_text += f"{pooled['r2']:.2f}" + (", NOT a measurement)" if pooled["r2"] <= 0 else ")")
    text = (
        f"expectation-realisation gap of the query predictive by n ({per_n}); at n={n_max} "
        f"{gap:.4f} [{lo:.4f}, {hi:.4f}], code-length gap "
        f"{top['gap_bits'].mean():.4f} bits/demo; {kappa}; permutation-averaged kappa "
        f"{pooled_text}"
    )
    if np.all(gaps["gap_p"].to_numpy() <= EXACT):
        return Verdict(
            claim, "supported", text + "; no order effect at any n (exactly)", subject=model,
            **GAP_FALLS.record(float("nan"), float("nan"), float("nan")),
        )  # fmt: skip
    slope, s_lo, s_hi = gap_trend(gaps, bootstrap)
    k_spread = curve.dropna(subset=["spread"])
    ks = k_spread["k"].to_numpy(float)
    k_slope = log_slope(ks, k_spread["spread"].to_numpy()) if len(ks) > 1 else np.nan
    k_ideal = log_slope(ks, k_spread["expected"].to_numpy()) if len(ks) > 1 else np.nan
    text += (
        f"; gap ~ n^{slope:.2f} [{s_lo:.2f}, {s_hi:.2f}]; spread of a k-ordering average ~ "
        f"k^{k_slope:.2f} (independent orderings: k^{k_ideal:.2f}, i.e. k^-0.5 times the "
        "finite-population factor); "
        f"after averaging {k_all} orderings {res:.4f} [{r_lo:.4f}, {r_hi:.4f}] is left "
        f"(limit {AVERAGED_SPREAD})"
    )
    return Verdict.from_rules(
        claim, text, [GAP_FALLS.status(s_lo, s_hi), AVERAGED.status(r_lo, r_hi)],
        subject=model, **GAP_FALLS.record(slope, s_lo, s_hi),
    )  # fmt: skip
