"""Reading ICL curves as Bayesian updating, by likelihood (bayes.updating).

Per (model, task, condition), the LM's probability of the true label before each
demonstration, q[s, k], its zero-shot probability of that input's true label, m[s, k], and
whether each shown label agreed with the true one, o[s, k], are fitted by three nested
learners: a fixed prior, the Beta-Bernoulli learner of the paper (prior strength kappa) and a
discounting learner that forgets (decay d; d = 1 is Beta-Bernoulli). Per (model, task), the
conditions whose labels are the task's own words are fitted together (one prior strength and
one decay for all of them: a Bayesian learner has one prior whatever the demonstrations
show), and judged by the updating rule of experiments.updating (the unrelated-label
condition has another prior and is judged on its own).

The Bayesian scaling law (Arora et al.) is compared with a power law on the conditions with
constant evidence, whose curve it models; models are compared on their pooled kappa.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.bayes.updating import UpdatingFit, fit_updating, predictive
from bayesmatrix.experiments.icl.scaling import LAW, MIN_FIT_SHOTS, scaling_fits, scaling_frame
from bayesmatrix.experiments.updating import (
    NO_UPDATE_KAPPA,
    evidence,
    judge,
    kappa_measured,
    record,
    updating_rule,
)
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.store import cached, fingerprint
from bayesmatrix.results.verdicts import Rule, Verdict, estimate

KEYS = ["model", "task", "condition"]
POOLED = "pooled"  # the condition column of a (model, task)'s pooled fit
UPDATING = updating_rule("icl")
FASTER = Rule("the larger model's kappa minus the smaller's", below=0, id="icl.faster")
# label words carrying less raw probability than this before any demonstration get a warning
LOW_LABEL_MASS = 0.05
CONSTANT = ("regular", "flipped", "sul")  # conditions whose evidence is constant by design

FIT_COLUMNS = {
    "model": "O", "task": "O", "condition": "O", "model_params": "i", "kappa": "f",
    "kappa_lo": "f", "kappa_hi": "f", "decay": "f", "decay_lo": "f", "decay_hi": "f",
    "p_update": "f", "p_forget": "f", "p_material": "f", "r2": "f", "label_mass_k0": "f",
}  # fmt: skip


@dataclass
class _Arrays:
    q: np.ndarray  # [S, T] LM probability of the true label
    prior: np.ndarray  # [S, T] zero-shot probability of the true label
    agree: np.ndarray  # [S, T] shown label == true label
    shown_p: np.ndarray  # [S, T] LM probability of the shown label
    binary: bool


def _arrays(group: pd.DataFrame) -> _Arrays:
    group = group.sort_values(["seed", "k"])
    seeds = group["seed"].nunique()
    t = len(group) // seeds
    probs = np.stack(group["probs"].to_numpy()).reshape(seeds, t, -1)
    shown = group["shown_index"].to_numpy().reshape(seeds, t)
    return _Arrays(
        q=group["p_true"].to_numpy(float).reshape(seeds, t),
        prior=group["zero_shot_p_true"].to_numpy(float).reshape(seeds, t),
        agree=group["agree"].to_numpy().reshape(seeds, t).astype(float),
        shown_p=np.take_along_axis(probs, shown[..., None], 2)[..., 0],
        binary=probs.shape[-1] == 2,
    )


def pooled_conditions(conditions: Sequence[str]) -> list[str]:
    """The conditions fitted together: those whose labels are the task's own words (the
    unrelated-label condition has another prior and is judged on its own)."""
    return [c for c in conditions if not c.startswith("sul")]


def is_constant(condition: str) -> bool:
    """Whether a condition's evidence is constant by design (see the module docstring)."""
    return condition in CONSTANT


@dataclass
class IclAnalysis(FrameResult):
    """fits: one row per (model, task, condition) and per (model, task) pooled (condition
    'pooled', or 'sul' fitted alone) with the three learners' fit (bayes.updating.UpdatingFit
    fields) and the label mass at zero shots. curves: mean P(true label) per k with a
    bootstrap band over seeds, beside the fitted Beta-Bernoulli and discounting curves.
    cells: the sweep's cells. scaling: the scaling-law fits per constant-evidence condition."""

    SCHEMA: ClassVar[Schema] = {
        "fits": FIT_COLUMNS,
        "curves": {
            "model": "O", "task": "O", "condition": "O", "k": "i", "p_true_mean": "f",
            "p_true_lo": "f", "p_true_hi": "f", "bayes_fit": "f", "discounted_fit": "f",
            "zero_shot_mean": "f",
        },
    }  # fmt: skip

    fits: pd.DataFrame
    curves: pd.DataFrame
    cells: pd.DataFrame | None = None
    scaling: pd.DataFrame | None = None

    def verdicts(self) -> list[Verdict]:
        """The updating verdict per (model, task) (and per unrelated-label condition), the
        model comparisons, then the Bayesian scaling law against a power law."""
        return self.updating_verdicts() + self.comparison_verdicts() + self.scaling_verdicts()

    def pooled(self) -> pd.DataFrame:
        """The fits the updating verdicts judge: pooled rows and unrelated-label ones."""
        mask = (self.fits["condition"] == POOLED) | self.fits["condition"].str.startswith("sul")
        return self.fits[mask]

    def updating_verdicts(self) -> list[Verdict]:
        """Per pooled fit: is the ICL curve consistent with Bayesian updating (UPDATING)?"""
        return [updating_verdict(row) for _, row in self.pooled().iterrows()]

    def comparison_verdicts(self) -> list[Verdict]:
        """Per task with two or more models: does the larger model update faster?"""
        out = []
        for row in self.compare_models().itertuples(index=False):
            (l_lo, l_hi), (s_lo, s_hi) = row.kappa_larger_ci, row.kappa_smaller_ci
            large = estimate(row.kappa_larger, l_lo, l_hi, ".1f", NO_UPDATE_KAPPA)
            small = estimate(row.kappa_smaller, s_lo, s_hi, ".1f", NO_UPDATE_KAPPA)
            lo = row.kappa_larger_ci[0] - row.kappa_smaller_ci[1]
            hi = row.kappa_larger_ci[1] - row.kappa_smaller_ci[0]
            out.append(
                Verdict(
                    f"{row.larger} updates faster than {row.smaller} on {row.task}",
                    row.larger_updates_faster,
                    f"pooled kappa {large} vs {small} ({row.why})",
                    subject=f"{row.larger}, {row.smaller}",
                    **FASTER.record(row.kappa_larger - row.kappa_smaller, lo, hi),
                )
            )
        return out

    def compare_models(self) -> pd.DataFrame:
        """Per task with two or more models: pooled kappa with intervals by model size, and
        whether the larger model updates faster (its whole interval below the smaller's);
        inconclusive unless both kappas are measurements (see kappa_measured)."""
        pooled = self.fits[self.fits["condition"] == POOLED]
        rows = []
        for task, g in pooled.groupby("task", sort=False):
            if g["model"].nunique() < 2:
                continue
            g = g.sort_values("model_params")
            small, large = g.iloc[0], g.iloc[-1]
            status = (
                FASTER.status(
                    large["kappa_lo"] - small["kappa_hi"], large["kappa_hi"] - small["kappa_lo"]
                )
                or "inconclusive"
            )
            problems = [
                f"{r['model']}: {why}" for r in (small, large) if (why := kappa_measured(r))
            ]
            if problems:
                status = "inconclusive"
            rows.append(
                {"task": task, "smaller": small["model"], "larger": large["model"],
                 "kappa_smaller": small["kappa"],
                 "kappa_smaller_ci": (small["kappa_lo"], small["kappa_hi"]),
                 "kappa_larger": large["kappa"],
                 "kappa_larger_ci": (large["kappa_lo"], large["kappa_hi"]),
                 "larger_updates_faster": status,
                 "why": "; ".join(problems) or "both kappas are measurements"}
            )  # fmt: skip
        return pd.DataFrame(rows)

    def scaling_verdicts(self) -> list[Verdict]:
        """Per constant-evidence (model, task, condition): does the Bayesian scaling law
        (Arora et al.) predict the held-out shots at least as well as a power law?"""
        laws = self.scaling if self.scaling is not None else pd.DataFrame(columns=KEYS)
        fitted = dict(iter(laws.groupby(KEYS, sort=False))) if len(laws) else {}
        out = []
        for _, fit in self.fits[self.fits["condition"].map(is_constant)].iterrows():
            key = (fit["model"], fit["task"], fit["condition"])
            model, task, cond = key
            statement = (
                f"A Bayesian scaling law predicts held-out shots of {model} on {task} ({cond}) "
                "at least as well as a power law"
            )
            if key not in fitted:
                text = (
                    f"{int(fit['shots'])} shots are too few to fit the law's 4 parameters to at "
                    f"least {MIN_FIT_SHOTS} of them and judge it on the rest"
                )
                out.append(Verdict(statement, "inconclusive", text, rule=LAW.id, subject=model))
                continue
            rows = fitted[key].set_index("law")
            b, p = rows.loc["bayesian-law"], rows.loc["power-law"]

            def est(row: pd.Series, name: str, spec: str = ".4f") -> str:
                return estimate(row[name], row[f"{name}_lo"], row[f"{name}_hi"], spec)

            text = (
                f"held-out RMSE on the last {int(b['heldout_shots'])} of "
                f"{int(b['fit_shots'] + b['heldout_shots'])} shots: Bayesian law "
                f"{est(b, 'heldout_rmse')}, power law {est(p, 'heldout_rmse')}; difference "
                f"{est(b, 'rmse_gap', '+.4f')}; R^2 on the fitted shots: Bayesian "
                f"{b['r2']:.2f}, power {p['r2']:.2f} (the law's prior rho and efficiency K are "
                "in the scaling table: they trade off along a valley the curve barely bends, "
                "so their values are not measurements)"
            )
            out.append(
                Verdict.from_rules(
                    statement,
                    text,
                    [LAW.status(b["rmse_gap_lo"], b["rmse_gap_hi"])],
                    subject=model,
                    **LAW.record(b["rmse_gap"], b["rmse_gap_lo"], b["rmse_gap_hi"]),
                )
            )
        return out


def updating_verdict(row: pd.Series) -> Verdict:
    """The updating verdict of one pooled fit (experiments.updating)."""
    model, task, conds = row["model"], row["task"], row["conditions"]
    statement = (
        f"ICL of {model} on {task} ({conds.replace(',', ', ')}) is consistent with Bayesian "
        "updating"
    )
    text = evidence(row)
    mass = row["label_mass_k0"]
    if mass < LOW_LABEL_MASS:
        text += (
            f"; WARNING: the label words carry only {mass:.4f} of the raw probability before "
            "any demonstration: renormalised over them, the row's confidence is manufactured"
        )
    status, why = judge(row)
    return Verdict(
        statement, status, text + (f" ({why})" if why else ""), subject=model,
        **record("icl", row),
    )  # fmt: skip


# bump when the analysis of a group changes, so that saved group checkpoints are recomputed
ANALYSIS_VERSION = 3


@dataclass
class GroupAnalysis(FrameResult):
    """The analysis of one group (a condition, or a model and task's pooled conditions): fit
    rows, curve rows, scaling-law rows; saved one folder per group, so a killed analysis
    resumes group by group."""

    SCHEMA: ClassVar[Schema] = {"fits": FIT_COLUMNS}

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
    """Fit the learners to every (model, task, condition) of a sweep's cells and to each
    (model, task)'s pooled conditions. With `checkpoints`, each group's analysis is saved
    there as it finishes (under a fingerprint of its readings and settings) and reused by a
    rerun: a kill loses at most one group. `bootstrap`: resamples of the scaling laws'
    intervals (the learners' intervals are profile-likelihood ones)."""
    groups: list[tuple[dict[str, str], pd.DataFrame]] = []
    for (model, task), by_task in frame.groupby(["model", "task"], sort=False):
        conditions = list(dict.fromkeys(by_task["condition"]))
        for cond in conditions:
            key = {"model": model, "task": task, "condition": cond}
            groups.append((key, by_task[by_task["condition"] == cond]))
        pooled = pooled_conditions(conditions)
        if pooled:
            key = {"model": model, "task": task, "condition": POOLED}
            groups.append((key, by_task[by_task["condition"].isin(pooled)]))
    done = []
    for i, (key, group) in enumerate(groups):
        if progress:
            progress(f"fitting learners: {key['model']} {key['task']} {key['condition']} "
                     f"({i + 1} of {len(groups)})")  # fmt: skip

        def compute(key: dict[str, str] = key, group: pd.DataFrame = group) -> GroupAnalysis:
            return _analyse_group(key, group, bootstrap, seed)

        if checkpoints is None:
            done.append(compute())
            continue
        inputs = {
            "group": key,
            "readings": _digest(group),
            "bootstrap": bootstrap,
            "seed": seed,
            "analysis": ANALYSIS_VERSION,
        }
        where = Path(checkpoints) / fingerprint(inputs)[:16]
        done.append(cached(where, inputs, GroupAnalysis.load, compute, force))
    scaling = [g.scaling for g in done if len(g.scaling)]
    return IclAnalysis(
        pd.concat([g.fits for g in done], ignore_index=True) if done else pd.DataFrame(),
        pd.concat([g.curves for g in done], ignore_index=True) if done else pd.DataFrame(),
        frame,
        pd.concat(scaling, ignore_index=True) if scaling else pd.DataFrame(columns=KEYS),
    )


def _digest(group: pd.DataFrame) -> str:
    """A hash of every reading the analysis of a group uses."""
    import hashlib

    h = hashlib.sha256()
    for cond, g in group.groupby("condition", sort=True):
        a = _arrays(g)
        h.update(str(cond).encode())
        for array in (a.q, a.prior, a.agree, a.shown_p):
            h.update(np.ascontiguousarray(array).tobytes())
    h.update(str((int(group["model_params"].iloc[0]), _mass_k0(group))).encode())
    return h.hexdigest()[:16]


def _mass_k0(group: pd.DataFrame) -> float:
    """Mean raw mass on the label words before any demonstration (NaN when not recorded)."""
    if "label_mass" not in group:
        return float("nan")
    return float(group.loc[group["k"] == 0, "label_mass"].mean())


def _stacked(group: pd.DataFrame) -> _Arrays:
    """The group's conditions' arrays stacked along sequences."""
    parts = [_arrays(g) for _, g in group.groupby("condition", sort=False)]
    if len({p.q.shape[1] for p in parts}) > 1:
        raise ValueError("conditions pooled together must have as many shots")

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return _Arrays(
        joined("q"), joined("prior"), joined("agree"), joined("shown_p"), parts[0].binary
    )


def _analyse_group(
    key: dict[str, str], group: pd.DataFrame, bootstrap: int, seed: int
) -> GroupAnalysis:
    """One group: the three learners fitted (bayes.updating), the mean curve with its band
    beside the fitted curves, and for a constant-evidence condition the scaling laws."""
    a = _stacked(group)
    fit: UpdatingFit = fit_updating(a.q, a.prior, a.agree)
    conditions = list(dict.fromkeys(group["condition"]))
    row = {
        **key,
        "conditions": ",".join(conditions),
        "model_params": int(group["model_params"].iloc[0]),
        **fit.to_dict(),
        "label_mass_k0": _mass_k0(group),
    }
    curves, scaling = pd.DataFrame(), pd.DataFrame()
    if key["condition"] != POOLED:
        bb = predictive(a.prior, a.agree, fit.kappa)
        disc = predictive(a.prior, a.agree, fit.kappa_discounted, fit.decay)
        rows = []
        for k in range(a.q.shape[1]):
            mean, lo, hi = bootstrap_mean_ci(a.q[:, k], n_boot=500, seed=seed)
            rows.append(
                {**key, "k": k, "p_true_mean": mean, "p_true_lo": lo, "p_true_hi": hi,
                 "bayes_fit": float(bb[:, k].mean()), "discounted_fit": float(disc[:, k].mean()),
                 "zero_shot_mean": float(a.prior[:, k].mean())}
            )  # fmt: skip
        curves = pd.DataFrame(rows)
        if is_constant(key["condition"]):
            law = scaling_fits(a.shown_p, a.agree, a.prior, a.binary, bootstrap, seed)
            scaling = scaling_frame(key, law) if law is not None else pd.DataFrame()
    return GroupAnalysis(pd.DataFrame([row]), curves, scaling)
