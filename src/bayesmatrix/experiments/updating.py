"""The Bayesian-updating verdict of a fit of the nested learners (bayes.updating), one rule for
every claim that asks it (ICL demonstrations, coin flips), with one margin stated in advance:
a decay of DECAY_MARGIN (a memory of 1 / (1 - DECAY_MARGIN) = 10 observations).

- not supported: a discounting learner with a decay below the margin explains the readings
  better than any with a decay at or above it (profile likelihood-ratio test, mixture null at
  the margin, p < ALPHA): the data show forgetting faster than a memory of 10 observations;
- supported: Beta-Bernoulli explains them better than a fixed prior (p < ALPHA), fits them
  better than a constant, and the decay's 95% interval lies above the margin: the data rule
  out forgetting that fast;
- inconclusive otherwise, saying why; always when the evidence is constant in every sequence
  (each observation agrees, or each disagrees): a forgetting learner then predicts what a
  Bayesian one does with a smaller prior strength, so no such design can separate them
  (Falck et al. 2024; Kossen et al. 2024).

The test against a decay of exactly 1 (p_forget) is reported beside it, not used: a Bayesian
learner fitted with a misspecified prior (a noisy zero-shot reading in its place) fits a decay
a little under 1, and that test rejects it more often the more readings there are (0.5.0's
rule refuted 4 of 100 noisy strong-prior Bayesian learners at p < 0.01; none by this one).
A Bayesian learner that expects change (a hazard rate) forgets too: "not supported" means
not the exchangeable Beta-Bernoulli learner of the paper, which is what is tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bayesmatrix.bayes.updating import MARGIN
from bayesmatrix.results.verdicts import Rule, Status, estimate

ALPHA = 0.01  # level of every refuting test of a verdict
DECAY_MARGIN = MARGIN  # a decay at or above it forgets nothing material (10+ observations)
# a kappa interval reaching this means the curve cannot be told apart from the prior
NO_UPDATE_KAPPA = 1e4


def updating_rule(claim: str) -> Rule:
    """The rule as a claim states it (its id qualified by the claim's name)."""
    return Rule(
        "the decay of a discounting learner fitted with Beta-Bernoulli nested in it",
        above=DECAY_MARGIN,
        id=f"{claim}.updating",
    )


def rule_sentence(claim: str) -> str:
    """The rule in words, with its thresholds."""
    return (
        f"not supported when a discounting learner with a decay below {DECAY_MARGIN:g} (a memory "
        f"of {1 / (1 - DECAY_MARGIN):.0f} observations) explains the readings better than any with "
        f"a decay at or above it (profile likelihood-ratio test, p < {ALPHA:g}); "
        f"supported when Beta-Bernoulli beats a fixed prior (p < {ALPHA:g}) and fits better than "
        f"a constant, and {updating_rule(claim).sentence()}; inconclusive otherwise, and always "
        "under constant evidence, which cannot separate the learners"
    )


def kappa_measured(fit: Mapping[str, Any]) -> str:
    """'' when a fit's kappa is a measurement of one prior strength; else why it is not (the
    fit is worse than a constant, the design cannot identify it, it drifts between the early
    and late observations, or a forgetting learner explains the readings better)."""
    if not fit["r2"] > 0:
        return f"Beta-Bernoulli fits worse than a constant (R^2 {fit['r2']:.2f})"
    if not fit["kappa_identified"]:
        return "the design cannot identify kappa"
    if fit["p_drift"] < ALPHA:
        return (
            f"kappa drifts: {fit['kappa_early']:.1f} on the early and {fit['kappa_late']:.1f} "
            f"on the late observations (p {fit['p_drift']:.2g})"
        )
    if fit["p_material"] < ALPHA:
        return "a forgetting learner explains the readings better"
    return ""


def kappa_text(fit: Mapping[str, Any]) -> str:
    """kappa with its interval, and why it is not a measurement when it is not."""
    kappa = estimate(fit["kappa"], fit["kappa_lo"], fit["kappa_hi"], ".2f", NO_UPDATE_KAPPA)
    why = kappa_measured(fit)
    return f"kappa {kappa}" + (f" (NOT a measurement: {why})" if why else "")


def evidence(fit: Mapping[str, Any], unit: str = "shots") -> str:
    """The fit in words: decay, both tests, kappa, fit quality and dependence, and size."""
    if fit["decay_identified"]:
        decay = f"decay {estimate(fit['decay'], fit['decay_lo'], fit['decay_hi'])}"
    else:
        decay = f"decay {fit['decay']:.3f} (not identified: its interval spans 0.02 to 1)"
    return (
        f"{decay}; forgetting faster than decay {DECAY_MARGIN:g} LR {fit['lr_material']:.2f}, p "
        f"{fit['p_material']:.3g} (any forgetting vs Beta-Bernoulli: LR {fit['lr_forget']:.2f}, "
        f"p {fit['p_forget']:.3g}); Beta-Bernoulli vs a fixed prior LR {fit['lr_update']:.1f}, p "
        f"{fit['p_update']:.3g}; {kappa_text(fit)}; R^2 {fit['r2']:.2f}; residual SD "
        f"{fit['sigma']:.2f} logits, autocorrelation {fit['rho']:.2f} (statistics / "
        f"{fit['phi']:.2f}); {int(fit['sequences'])} sequences x {int(fit['shots'])} {unit}"
    )


def judge(fit: Mapping[str, Any]) -> tuple[Status, str]:
    """(status, why it is not supported; '' when it is) of a fit (see the module docstring)."""
    if fit["constant_evidence"]:
        return "inconclusive", (
            "the evidence is constant in every sequence (each observation agrees, or each "
            "disagrees): a forgetting learner predicts as a Bayesian one with a smaller prior; "
            "use a design whose evidence varies"
        )
    if fit["p_material"] < ALPHA:
        return "not supported", (
            f"a learner forgetting faster than decay {DECAY_MARGIN:g} explains the readings better"
        )
    if fit["p_update"] >= ALPHA:
        return "inconclusive", "no measurable updating: the fixed prior fits as well"
    if not fit["decay_identified"]:
        return "inconclusive", "the design cannot identify the decay"
    if not fit["r2"] > 0:
        return "inconclusive", "Beta-Bernoulli fits worse than a constant"
    if fit["decay_lo"] > DECAY_MARGIN:
        return "supported", ""
    return "inconclusive", (
        f"the data allow forgetting as fast as decay {fit['decay_lo']:.3f} (the margin is "
        f"{DECAY_MARGIN:g}: a memory of {1 / (1 - DECAY_MARGIN):.0f} observations)"
    )


def record(claim: str, fit: Mapping[str, Any]) -> dict[str, Any]:
    """The data fields of the verdict (Verdict(..., **record(claim, fit)))."""
    return updating_rule(claim).record(
        fit["decay"], fit["decay_lo"], fit["decay_hi"], p_value=fit["p_material"], alpha=ALPHA
    )
