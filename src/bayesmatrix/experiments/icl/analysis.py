"""Reading ICL curves as Bayesian updating: fitted learners, their comparison, verdicts.

Per (model, task, condition): the LM's probability of the semantic (true) label at every
demonstration, q[s, k], is fitted by
- Beta-Bernoulli: prior mean = the zero-shot probability of the true label, kappa in
  pseudo-counts, outcomes = whether each shown label agreed with the semantic one;
- a hypothesis mixture over {semantic mapping, flipped (binary) / shifted mapping, base rate};
- the non-Bayesian recency baseline (exponential forgetting; decay = 1 is Beta-Bernoulli).
Learners are compared by leave-one-seed-out cross-entropy on q.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes import BetaBernoulliLearner, HypothesisMixtureLearner, RecencyLearner
from bayesmatrix.bayes.information import binary_cross_entropy
from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.experiments.icl.scaling import LAW, MIN_FIT_SHOTS, scaling_fits, scaling_frame
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.store import cached, fingerprint
from bayesmatrix.results.verdicts import Rule, Status, Verdict, bounded, estimate

KEYS = ["model", "task", "condition"]
# a kappa interval reaching this means the curve cannot be told apart from the zero-shot prior
NO_UPDATE_KAPPA = 1e4
# held-out cross-entropy differences smaller than this (nats per demonstration) are ties
TIE_NATS = 1e-3
FORGETTING = Rule(
    "the held-out cross-entropy of the best Bayesian learner minus the forgetting learner's",
    above=TIE_NATS,
    refute_at=-TIE_NATS,
    unit=" nats/demo",
)
UPDATES = Rule("kappa", below=NO_UPDATE_KAPPA)
FASTER = Rule("the larger model's kappa minus the smaller's", below=0)
# a recency decay this close to 1 is the Beta-Bernoulli learner itself
DECAY_IS_BAYES = 1e-3
# label words carrying less raw probability than this before any demonstration get a warning
LOW_LABEL_MASS = 0.05


def _decay(rec: pd.Series) -> str:
    """The recency baseline's decay with its interval; at its boundary 0 (it forgets all but
    the last demonstration: a degenerate baseline) without one, since its resamples' fits are
    flat there and land at 0 or 1 with float noise."""
    if rec["decay"] <= DECAY_IS_BAYES:
        return f"{rec['decay']:.3f} (at its boundary 0: a degenerate fit, not an estimate)"
    return estimate(rec["decay"], rec["decay_lo"], rec["decay_hi"])


@dataclass
class _Arrays:
    q: np.ndarray  # [S, T] LM probability of the true label
    probs: np.ndarray  # [S, T, K]
    agree: np.ndarray  # [S, T] shown label == true label
    prior: np.ndarray  # [S, T] zero-shot probability of the true label
    shown: np.ndarray  # [S, T] shown label index
    hyp: np.ndarray  # [S, 2, T] label under the semantic and the flipped/shifted mapping
    k_classes: int


def _arrays(group: pd.DataFrame) -> _Arrays:
    group = group.sort_values(["seed", "k"])
    seeds = group["seed"].nunique()
    t = len(group) // seeds
    probs = np.stack(group["probs"].to_numpy()).reshape(seeds, t, -1)
    k = probs.shape[-1]
    true = group["true_index"].to_numpy().reshape(seeds, t)
    shifted = 1 - true if k == 2 else (true + 1) % k
    eps = 1e-4
    return _Arrays(
        q=np.clip(group["p_true"].to_numpy().reshape(seeds, t), eps, 1 - eps),
        probs=probs,
        agree=group["agree"].to_numpy().reshape(seeds, t).astype(float),
        prior=np.clip(group["zero_shot_p_true"].to_numpy().reshape(seeds, t), eps, 1 - eps),
        shown=group["shown_index"].to_numpy().reshape(seeds, t),
        hyp=np.stack([true, shifted], axis=1),
        k_classes=k,
    )


def _fit_all(a: _Arrays, bootstrap: int, seed: int) -> dict[str, object]:
    hm_probs = a.probs / a.probs.sum(-1, keepdims=True)
    return {
        "beta-bernoulli": BetaBernoulliLearner(a.prior).fit(
            a.q, a.agree, bootstrap=bootstrap, seed=seed
        ),
        "recency": RecencyLearner(a.prior).fit(a.q, a.agree, bootstrap=bootstrap, seed=seed),
        "hypothesis-mixture": HypothesisMixtureLearner(np.ones(3) / 3).fit(
            hm_probs, a.shown, a.hyp, bootstrap=bootstrap, seed=seed
        ),
    }


def _predict_true(name: str, learner: object, a: _Arrays, rows: np.ndarray) -> np.ndarray:
    """A fitted learner's predicted P(true label) for the sequences in rows."""
    if name == "hypothesis-mixture":
        pred = learner.predict(a.shown[rows], a.hyp[rows], a.k_classes)  # type: ignore[attr-defined]
        true = a.hyp[rows, 0]
        return np.take_along_axis(pred, true[..., None], 2)[..., 0]
    params = {"kappa": learner.kappa, "prior_mean": a.prior[rows]}  # type: ignore[attr-defined]
    if name == "recency":
        return RecencyLearner(decay=learner.decay, **params).predict(a.agree[rows])  # type: ignore[attr-defined]
    return BetaBernoulliLearner(**params).predict(a.agree[rows])


def _cv_cross_entropy(a: _Arrays) -> dict[str, np.ndarray]:
    """Leave-one-seed-out cross-entropy (nats/position) of each learner on held-out seeds."""
    seeds = a.q.shape[0]
    out: dict[str, list[float]] = {}
    for held in range(seeds):
        train = np.array([s for s in range(seeds) if s != held])
        sub = _Arrays(
            a.q[train],
            a.probs[train],
            a.agree[train],
            a.prior[train],
            a.shown[train],
            a.hyp[train],
            a.k_classes,
        )
        for name, learner in _fit_all(sub, 0, 0).items():
            pred = _predict_true(name, learner, a, np.array([held]))
            out.setdefault(name, []).append(float(binary_cross_entropy(a.q[held], pred[0]).mean()))
    return {k: np.asarray(v) for k, v in out.items()}


@dataclass
class IclAnalysis(FrameResult):
    """fits: one row per (model, task, condition, learner) with parameters, 95% intervals,
    goodness of fit and held-out cross-entropy. curves: mean P(true label) per k with a
    bootstrap band over seeds, next to the fitted Beta-Bernoulli curve. cells: the sweep's
    cells the fits were made from (when known)."""

    SCHEMA: ClassVar[Schema] = {
        "fits": {
            "model": "O", "task": "O", "condition": "O", "model_params": "i", "learner": "O",
            "kl_bits": "f", "r2": "f", "cv_ce": "f", "cv_gap": "f", "cv_gap_lo": "f",
            "cv_gap_hi": "f", "kappa": "f", "kappa_lo": "f", "kappa_hi": "f",
        },
        "curves": {
            "model": "O", "task": "O", "condition": "O", "k": "i", "p_true_mean": "f",
            "p_true_lo": "f", "p_true_hi": "f", "bayes_fit": "f", "zero_shot_mean": "f",
        },
    }  # fmt: skip

    fits: pd.DataFrame
    curves: pd.DataFrame
    cells: pd.DataFrame | None = None
    scaling: pd.DataFrame | None = None  # icl_scaling: one row per (group, law)

    def verdicts(self) -> list[Verdict]:
        """Updating verdicts per (model, task, condition), the model comparisons, then the
        Bayesian scaling law against a power law."""
        return self.updating_verdicts() + self.comparison_verdicts() + self.scaling_verdicts()

    def scaling_verdicts(self) -> list[Verdict]:
        """Per (model, task, condition): does the Bayesian scaling law (Arora et al.) predict
        the held-out shots at least as well as a power law (RMSE within TIE_RMSE)?"""
        if self.scaling is None:  # an analysis made without the scaling law
            return []
        out = []
        bbs = self.fits[self.fits["learner"] == "beta-bernoulli"].set_index(KEYS)
        fitted = dict(iter(self.scaling.groupby(KEYS, sort=False)))
        for key, bb_row in bbs.iterrows():
            model, task, cond = key
            claim = (
                f"A Bayesian scaling law predicts held-out shots of {model} on {task} ({cond}) "
                "at least as well as a power law"
            )
            if key not in fitted:
                text = (
                    f"{int(bb_row['shots'])} shots are too few to fit the law's 4 parameters to "
                    f"at least {MIN_FIT_SHOTS} of them and judge it on the rest"
                )
                out.append(Verdict(claim, "inconclusive", text))
                continue
            rows = fitted[key].set_index("law")
            b, p = rows.loc["bayesian-law"], rows.loc["power-law"]

            def est(row: pd.Series, name: str, spec: str = ".4f") -> str:
                return estimate(row[name], row[f"{name}_lo"], row[f"{name}_hi"], spec)

            text = (
                f"held-out RMSE on the last {int(b['heldout_shots'])} of "
                f"{int(b['fit_shots'] + b['heldout_shots'])} shots: Bayesian law "
                f"{est(b, 'heldout_rmse')}, power law {est(p, 'heldout_rmse')}"
            )
            if "beta-bernoulli" in rows.index:
                text += f", Beta-Bernoulli {est(rows.loc['beta-bernoulli'], 'heldout_rmse')}"
            text += (
                f"; difference Bayesian - power {est(b, 'rmse_gap', '+.4f')}; prior on the "
                f"demonstrated task rho {est(b, 'rho', '.3f')} (kappa "
                f"{bounded(bb_row['kappa'], '.2f', NO_UPDATE_KAPPA)}), efficiency K "
                f"{est(b, 'K', '.3f')}, P1 "
                f"{b['p1']:.3f}, P2 {b['p2']:.3f}; R^2 on the fitted shots: Bayesian "
                f"{b['r2']:.2f}, power {p['r2']:.2f}"
            )
            statuses = [LAW.status(b["rmse_gap_lo"], b["rmse_gap_hi"])]
            out.append(Verdict.from_rules(claim, text, statuses))
        return out

    def comparison_verdicts(self) -> list[Verdict]:
        """Per (task, condition) with two or more models: does the larger model update faster
        (smaller kappa, non-overlapping 95% intervals)?"""
        out = []
        for row in self.compare_models().itertuples(index=False):
            large = estimate(row.kappa_larger, *row.kappa_larger_ci, ".1f", NO_UPDATE_KAPPA)
            small = estimate(row.kappa_smaller, *row.kappa_smaller_ci, ".1f", NO_UPDATE_KAPPA)
            out.append(
                Verdict(
                    f"{row.larger} updates faster than {row.smaller} ({row.condition} labels)",
                    row.larger_updates_faster,
                    f"kappa {large} vs {small} "
                    f"(Beta-Bernoulli R^2 {row.r2_larger:.2f} vs {row.r2_smaller:.2f}; a fit "
                    "that does not beat a constant gives no rate to compare)",
                )
            )
        return out

    def updating_verdicts(self) -> list[Verdict]:
        """Per (model, task, condition): is the curve consistent with Bayesian updating?

        Rules, judged independently and combined:
        - refutation: the recency (forgetting) learner predicts held-out seeds better than the
          best Bayesian learner by more than TIE_NATS per demonstration (95% interval), and
          it is not the Bayesian learner itself (a decay within DECAY_IS_BAYES of 1 is
          Beta-Bernoulli, which cannot refute Beta-Bernoulli);
        - a Bayesian learner must carry it: the one with the best held-out cross-entropy must
          fit the curve better than a constant (R^2 > 0), else inconclusive;
        - measurable updating: the kappa interval stays below NO_UPDATE_KAPPA, and kappa is a
          measurement only when the Beta-Bernoulli fit beats a constant (otherwise
          inconclusive: the curve cannot be told apart from the zero-shot prior, or kappa
          does not describe it).
        The evidence names the carrying learner, every learner's fit, a recency baseline on
        its parameter boundary, and warns when the label words carry little raw probability
        (renormalising such rows manufactures confident priors).
        """
        out = []
        for (model, task, cond), g in self.fits.groupby(KEYS, sort=False):
            rows = g.set_index("learner")
            bb, rec = rows.loc["beta-bernoulli"], rows.loc["recency"]
            claim = f"ICL of {model} on {task} ({cond}) is consistent with Bayesian updating"
            kappa_ok = bool(bb["r2"] > 0)
            kappa = estimate(bb["kappa"], bb["kappa_lo"], bb["kappa_hi"], ".2f", NO_UPDATE_KAPPA)
            text = (
                f"kappa = {kappa} pseudo-counts ("
                + ("" if kappa_ok else "NOT a measurement: ")
                + f"Beta-Bernoulli R^2 {bb['r2']:.2f}, fit KL {bb['kl_bits']:.4f} bits/demo)"
            )
            text += f"; recency decay {_decay(rec)}"
            gap, lo, hi = bb["cv_gap"], bb["cv_gap_lo"], bb["cv_gap_hi"]
            bayes = g[g["learner"] != "recency"]
            carrier = (
                bayes.loc[bayes["cv_ce"].idxmin(), "learner"]
                if bayes["cv_ce"].notna().any()
                else None
            )
            best = g.loc[g["cv_ce"].idxmin(), "learner"] if g["cv_ce"].notna().any() else "n/a"
            text += (
                f"; held-out CE of the best Bayesian learner minus recency {gap:+.4f} "
                f"[{lo:+.4f}, {hi:+.4f}] nats/demo; best held-out learner: {best}; "
                f"carried by: {carrier or 'n/a (one seed: no held-out comparison)'}; fits: "
                + ", ".join(f"{n} R^2 {r['r2']:.2f}" for n, r in rows.iterrows())
            )
            mass = rows["label_mass_k0"].iloc[0] if "label_mass_k0" in rows else float("nan")
            if mass < LOW_LABEL_MASS:
                text += (
                    f"; WARNING: the label words carry only {mass:.4f} of the raw probability "
                    "before any demonstration: renormalised over them, the row's confidence "
                    "is manufactured"
                )
            is_bayes = rec["decay"] >= 1 - DECAY_IS_BAYES
            forgetting = FORGETTING.status(lo, hi)
            updates = UPDATES.status(bb["kappa_lo"], bb["kappa_hi"])
            refuted = forgetting == "supported" and not is_bayes
            carried = carrier is not None and bool(rows.loc[carrier, "r2"] > 0)
            reasons = []
            if refuted:
                reasons.append("a forgetting learner predicts held-out seeds better")
            elif is_bayes:
                reasons.append("the recency fit is Beta-Bernoulli itself (decay 1): no refutation")
            elif forgetting == "inconclusive":
                reasons.append(f"Bayesian and forgetting learners tie within {TIE_NATS} nats/demo")
            if updates in ("inconclusive", "not supported"):
                reasons.append("no measurable updating: the curve stays at the zero-shot prior")
            elif not kappa_ok:
                reasons.append("kappa does not describe the curve (Beta-Bernoulli R^2 <= 0)")
            if carrier is not None and not carried:
                reasons.append(f"the carrying learner ({carrier}) fits worse than a constant")
            if forgetting is None or updates is None:
                statuses: list[Status | None] = [None]
            elif refuted and updates == "supported":
                statuses = ["not supported"]
            elif refuted or updates != "supported" or not kappa_ok:
                statuses = ["inconclusive"]  # no updating to judge, or the rules disagree
            elif forgetting == "inconclusive" and not is_bayes:
                # a forgetting learner (decay < 1) predicts held-out seeds as well: the
                # demonstrations cannot tell it from Bayesian updating (a window-4 learner on
                # all-agreeing labels is said "supported" otherwise: verdict calibration)
                statuses = ["inconclusive"]
            elif carrier is not None and not carried:
                statuses = ["inconclusive"]
            else:
                statuses = ["supported"]
            out.append(Verdict.from_rules(claim, text, statuses, "; ".join(reasons)))
        return out

    def compare_models(self) -> pd.DataFrame:
        """Per (task, condition) with two or more models: kappa with intervals by model size,
        the k from which P(semantic label) stays below 0.5, and whether the larger model
        updates faster (smaller kappa with non-overlapping 95% intervals; inconclusive when
        either model's Beta-Bernoulli fit does not beat a constant, R^2 <= 0)."""
        bb = self.fits[self.fits["learner"] == "beta-bernoulli"]
        rows = []
        for (task, cond), g in bb.groupby(["task", "condition"], sort=False):
            if g["model"].nunique() < 2:
                continue
            g = g.sort_values("model_params")
            small, large = g.iloc[0], g.iloc[-1]
            # the larger model's whole interval below the smaller's: it updates faster (the
            # difference's interval from the two intervals' ends; no interval: inconclusive)
            status = (
                FASTER.status(
                    large["kappa_lo"] - small["kappa_hi"], large["kappa_hi"] - small["kappa_lo"]
                )
                or "inconclusive"
            )
            if not (small["r2"] > 0 and large["r2"] > 0):
                status = "inconclusive"  # a kappa whose fit does not beat a constant is no rate
            crossing = {}
            for model in (small["model"], large["model"]):
                c = self.curves[
                    (self.curves["model"] == model)
                    & (self.curves["task"] == task)
                    & (self.curves["condition"] == cond)
                ]
                crossing[model] = sustained_crossing(c.sort_values("k")["p_true_mean"].to_numpy())
            rows.append(
                {
                    "task": task,
                    "condition": cond,
                    "smaller": small["model"],
                    "larger": large["model"],
                    "kappa_smaller": small["kappa"],
                    "kappa_smaller_ci": (small["kappa_lo"], small["kappa_hi"]),
                    "kappa_larger": large["kappa"],
                    "kappa_larger_ci": (large["kappa_lo"], large["kappa_hi"]),
                    "r2_smaller": small["r2"],
                    "r2_larger": large["r2"],
                    "crossing_smaller": crossing[small["model"]],
                    "crossing_larger": crossing[large["model"]],
                    "larger_updates_faster": status,
                }
            )
        return pd.DataFrame(rows)


def sustained_crossing(curve: np.ndarray) -> int | None:
    """The first k from which the curve stays below 0.5 to the end (None if it never does);
    a single noisy dip below 0.5 is not a crossing."""
    above = np.nonzero(np.asarray(curve) >= 0.5)[0]
    if len(above) == 0:
        return 0
    k = int(above[-1]) + 1
    return k if k < len(curve) else None


# bump when the analysis of a group changes, so that saved group checkpoints are recomputed
ANALYSIS_VERSION = 1


@dataclass
class GroupAnalysis(FrameResult):
    """The analysis of one (model, task, condition): its fit rows, curve rows and scaling-law
    rows; saved as one folder per group, so a killed analysis resumes group by group."""

    SCHEMA: ClassVar[Schema] = {
        "fits": IclAnalysis.SCHEMA["fits"],
        "curves": IclAnalysis.SCHEMA["curves"],
    }

    fits: pd.DataFrame
    curves: pd.DataFrame
    scaling: pd.DataFrame


def analyse(
    frame: pd.DataFrame,
    bootstrap: int = 100,
    seed: int = 0,
    checkpoints: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> IclAnalysis:
    """Fit every learner to every (model, task, condition) group of a sweep's cells. With
    `checkpoints`, each group's analysis is saved there as it finishes (under a fingerprint
    of its readings and settings) and reused by a rerun: a kill loses at most one group."""
    groups = list(frame.groupby(KEYS, sort=False))
    done = []
    for i, ((model, task, cond), group) in enumerate(groups):
        if progress:
            progress(f"fitting learners: {model} {task} {cond} ({i + 1} of {len(groups)})")
        a = _arrays(group)

        def compute(a: _Arrays = a, group: pd.DataFrame = group) -> GroupAnalysis:
            return _analyse_group(a, group, bootstrap, seed)

        if checkpoints is None:
            done.append(compute())
            continue
        inputs = {
            "group": [model, task, cond],
            "readings": _digest_arrays(a, group),
            "bootstrap": bootstrap,
            "seed": seed,
            "analysis": ANALYSIS_VERSION,
        }
        where = Path(checkpoints) / fingerprint(inputs)[:16]
        done.append(cached(where, inputs, GroupAnalysis.load, compute, force))
    fits = [g.fits for g in done]
    curves = [g.curves for g in done]
    scaling = [g.scaling for g in done if len(g.scaling)]
    laws = pd.concat(scaling, ignore_index=True) if scaling else pd.DataFrame(columns=KEYS)
    return IclAnalysis(
        pd.concat(fits, ignore_index=True) if fits else pd.DataFrame(),
        pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        frame,
        laws,
    )


def _digest_arrays(a: _Arrays, group: pd.DataFrame) -> str:
    """A hash of every reading the analysis of a group uses."""
    import hashlib

    h = hashlib.sha256()
    for array in (a.q, a.probs, a.agree, a.prior, a.shown, a.hyp):
        h.update(np.ascontiguousarray(array).tobytes())
    h.update(str((int(group["model_params"].iloc[0]), _mass_k0(group))).encode())
    return h.hexdigest()[:16]


def _mass_k0(group: pd.DataFrame) -> float:
    """Mean raw mass on the label words before any demonstration (NaN when not recorded)."""
    if "label_mass" not in group:
        return float("nan")
    return float(group.loc[group["k"] == 0, "label_mass"].mean())


def _analyse_group(a: _Arrays, group: pd.DataFrame, bootstrap: int, seed: int) -> GroupAnalysis:
    """One (model, task, condition): learners fitted, compared on held-out seeds, the scaling
    laws, and the mean curve with its band."""
    model, task, cond = (group[k].iloc[0] for k in KEYS)
    key = {"model": model, "task": task, "condition": cond}
    shown_p = np.take_along_axis(a.probs, a.shown[..., None], 2)[..., 0]
    law_fits = scaling_fits(shown_p, a.agree, a.prior, a.k_classes == 2, bootstrap, seed)
    scaling = scaling_frame(key, law_fits) if law_fits is not None else pd.DataFrame()
    fits = _fit_all(a, bootstrap, seed)
    cv = _cv_cross_entropy(a) if a.q.shape[0] >= 2 else {}
    best_bayes = min(
        ("beta-bernoulli", "hypothesis-mixture"), key=lambda n: cv[n].mean() if cv else 0.0
    )
    if cv:
        gap, lo, hi = bootstrap_mean_ci(cv[best_bayes] - cv["recency"], seed=seed)
    else:
        gap = lo = hi = float("nan")
    params = int(group["model_params"].iloc[0])
    fit_rows, curve_rows = [], []
    for name, learner in fits.items():
        fit = learner.fit_  # type: ignore[attr-defined]
        row = {
            **key,
            "model_params": params,
            "learner": name,
            "kl_bits": fit.kl_bits,
            "r2": fit.r2,
            "cross_entropy": fit.cross_entropy,
            "n_params": fit.n_params,
            "n_seeds": fit.n_sequences,
            "shots": fit.n_positions,
            "cv_ce": float(cv[name].mean()) if cv else float("nan"),
            "cv_gap": gap,
            "cv_gap_lo": lo,
            "cv_gap_hi": hi,
            "label_mass_k0": _mass_k0(group),
        }
        for name_, value in fit.params.items():
            row[name_] = value
            row[f"{name_}_lo"], row[f"{name_}_hi"] = fit.ci[name_]
        fit_rows.append(row)
    fitted_bb = _predict_true("beta-bernoulli", fits["beta-bernoulli"], a, np.arange(a.q.shape[0]))
    for k in range(a.q.shape[1]):
        mean, lo, hi = bootstrap_mean_ci(a.q[:, k], n_boot=500, seed=seed)
        curve_rows.append(
            {
                **key,
                "k": k,
                "p_true_mean": mean,
                "p_true_lo": lo,
                "p_true_hi": hi,
                "bayes_fit": float(fitted_bb[:, k].mean()),
                "zero_shot_mean": float(a.prior[:, k].mean()),
            }
        )
    return GroupAnalysis(pd.DataFrame(fit_rows), pd.DataFrame(curve_rows), scaling)
