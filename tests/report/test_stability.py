"""Reported numbers that do not move under float noise (issue #23, #34).

Each analysis of the `test` profile is run again on its own readings perturbed by 1e-6
relative (float32 rounding is ~6e-8; a CPU with other vector units, another BLAS or another
batch order moves readings by about this much) and every number of every verdict must stay
within its printed precision (the golden test's tolerance). A number that moves is a defect
of its estimator, not a tolerance to widen: those found this way were fixed (the recency
decay's bootstrap interval at its boundary, the scaling laws' fits, the held-out
cross-entropy of a hypothesis mixture; 0.5.0 replaced the bootstrap and cross-validation of
the ICL learners by profile likelihoods, whose interval ends are found by root finding, and
no longer prints the scaling law's rho and K, which a flat valley leaves unmeasured).

Rows, the wind tunnel and the corpus matrix are not rerun here: their verdicts are means and
bootstrap means of per-sequence or per-position values, smooth in the readings.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.claims import get_claim
from bayesmatrix.report.validate import profile_settings

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan)", re.I)
RELATIVE = 1e-6
REPEATS = 2
# float columns that are settings of the experiment, not readings (a coin's bias is a key
# its sequences are grouped by)
DESIGN = {"eps", "lambda", "bias", "after", "stated"}  # design values, not readings


def numbers(text: str) -> list[tuple[float, float]]:
    """(value, printed precision) of each number of a verdict's evidence: one unit of its last
    printed digit (0.957 -> 0.001, 2.31e-13 -> 1e-15, 52 -> 1). A bound shown as '> 10^4'
    counts as the number 10^4 printed to 1: a fit just below its bound (9,999.6) and one at it
    are the same measurement either side of the display threshold."""
    text = re.sub(r"> 10\^(\d+)", lambda m: f"{10 ** int(m.group(1))}", text)
    found = []
    for m in NUMBER.finditer(text):
        token = m.group()
        if token.lower().endswith("nan"):
            found.append((float("nan"), 0.0))
            continue
        mantissa, _, exponent = token.lower().partition("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        found.append((float(token), 10.0 ** (int(exponent or 0) - decimals)))
    return found


def perturb(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every float reading times (1 + 1e-6 N(0, 1)); distributions stored as arrays are
    perturbed and renormalised; columns derived from them are recomputed."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in DESIGN:
            continue
        if values.dtype.kind == "f":
            out[column] = values * (1 + RELATIVE * rng.standard_normal(len(values)))
        elif values.dtype == object and len(values) and isinstance(values.iloc[0], np.ndarray):
            rows = np.stack(values.to_numpy()).astype(float)
            noisy = rows * (1 + RELATIVE * rng.standard_normal(rows.shape))
            if np.allclose(rows.sum(-1), 1):
                noisy /= noisy.sum(-1, keepdims=True)
            out[column] = list(noisy)
    if {"probs", "true_index", "shown_index"} <= set(out.columns):
        probs = np.stack(out["probs"].to_numpy())
        at = np.arange(len(out))
        out["p_true"] = probs[at, out["true_index"].to_numpy()]
        out["p_shown"] = probs[at, out["shown_index"].to_numpy()]
    return out


def rerun(name: str, result: object, settings: dict, rng: np.random.Generator) -> list:
    """The verdicts of a claim's analysis run again on perturbed readings."""
    if name == "icl":
        from bayesmatrix.experiments.icl.analysis import analyse

        return analyse(perturb(result.cells, rng), settings["bootstrap"]).verdicts()
    if name == "prior":
        from bayesmatrix.experiments.prior_approx import approximate_prior

        def noisy(points: np.ndarray) -> np.ndarray:
            p = points * (1 + RELATIVE * rng.standard_normal(points.shape))
            return p / p.sum(-1, keepdims=True)

        refit = approximate_prior(
            noisy(result.train_points), noisy(result.test_points), settings["k_max"], "lm"
        )
        return refit.verdicts()
    frames = {
        f.name: perturb(getattr(result, f.name), rng)
        for f in dataclasses.fields(result)
        if f.init and isinstance(getattr(result, f.name), pd.DataFrame)
    }
    return dataclasses.replace(result, **frames).verdicts()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "icl",
        "prior",
        "continuity",
        "entropy",
        "cot",
        "hallucination",
        "coin-flips",
    ],
)
def test_verdict_numbers_do_not_move_under_float_noise(test_profile_run, name):
    out, _ = test_profile_run
    claim = get_claim(name)
    settings = profile_settings("test")[name]
    where = out / "test" / name
    results = [claim.read(where / "smollm2-135m" if claim.scope == "model" else where)]
    base = [v for r in results for v in r.verdicts()]
    rng = np.random.default_rng(0)
    for _ in range(REPEATS):
        moved = [v for r in results for v in rerun(name, r, settings, rng)]
        assert [(v.statement, v.status) for v in moved] == [(v.statement, v.status) for v in base]
        for a, b in zip(base, moved, strict=True):
            want, got = numbers(a.evidence), numbers(b.evidence)
            assert len(want) == len(got), (a.evidence, b.evidence)
            moved_more = [
                (w, g)
                for (w, unit), (g, _) in zip(want, got, strict=True)
                if not (np.isnan(w) and np.isnan(g)) and not abs(w - g) <= unit * (1 + 1e-9)
            ]
            assert not moved_more, [*moved_more, a.evidence]


def test_each_number_is_read_with_its_printed_precision():
    text = "decay 0.957 [0.830, 1.000]; p 2.31e-13; kappa > 10^4; 15 sequences; nan"
    got = numbers(text)
    assert [v for v, _ in got[:-1]] == [0.957, 0.83, 1.0, 2.31e-13, 1e4, 15.0]
    np.testing.assert_allclose([u for _, u in got[:-1]], [1e-3, 1e-3, 1e-3, 1e-15, 1, 1])
    assert np.isnan(got[-1][0])


@pytest.mark.slow
def test_continuity_readings_do_not_carry_float32_rounding(smollm2):
    """Continuity compares rows of embeddings 1e-4 apart. With the unembedding in float32
    the rounding of the logits, which depends on the CPU's reduction order, was part of the
    measured TV (about 10% at eps = 1e-4) and the slope moved by 1e-3 when the hidden states
    moved by 1e-7; in float64 (LanguageModel.rows_from_hidden) it does not."""
    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.experiments.continuity import hidden_bank, loglog_slopes, perturbation

    h = hidden_bank(smollm2, stdlib_docs(max_chars=30_000), 16, -1)
    rng = np.random.default_rng(1)
    nudged = h * (1 + 1e-7 * rng.standard_normal(h.shape))

    def slope(hidden: np.ndarray) -> float:
        return float(loglog_slopes(perturbation(smollm2, hidden, -1)).mean())

    assert abs(slope(nudged) - slope(h)) < 1e-5
    try:  # the same check fails with the float32 map: it can tell the two apart
        smollm2.rows_from_hidden = smollm2._rows_from_hidden32
        assert abs(slope(nudged) - slope(h)) > 1e-4
    finally:
        del smollm2.rows_from_hidden  # the class's float64 method again
