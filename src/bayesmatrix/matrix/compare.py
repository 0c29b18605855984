"""An LM's rows against the ideal matrix of a corpus, position by position on held-out text.

Per position: KL in both directions (bits) over the shared vocabulary, the length of the context
suffix the corpus matched, and log2 p of the actual next token under the matrix, the LM and their
mixtures. Windows are processed in order and saved as they finish, so a killed run resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.information import kl
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.matrix.ideal import MAX_DEPTH, IdealMatrix
from bayesmatrix.results.cells import Cell, Cells
from bayesmatrix.results.frame import FrameResult, Schema

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

LAMBDAS = np.round(np.linspace(0.0, 1.0, 21), 2)
COMPARE_VERSION = 1  # of the per-window comparison: part of its cache key


def _column(lam: float) -> str:
    return {0.0: "log2p_lm", 1.0: "log2p_matrix"}.get(float(lam), f"log2p_mix{lam:.2f}")


def _kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    return float(kl(p, q, base=2))


def compare_window(
    matrix: IdealMatrix, lm: LanguageModel, ids: list[int], prior: str, max_depth: int
) -> pd.DataFrame:
    """Rows for every position t >= 1 of one window (the LM sees the window from its start)."""
    lm_ids = lm.with_bos(ids)
    shift = len(lm_ids) - len(ids)
    rows = lm.trace(lm_ids, top_k=0, rows="float32").rows
    if rows is None:
        raise BayesmatrixError(f"{lm.name} gave no next-token rows; compare needs full rows")
    vocab = min(matrix.vocab_size, rows.shape[1])
    out = []
    for t in range(1, len(ids)):
        q = rows[shift + t - 1, :vocab].astype(np.float64)
        lm_mass = float(q.sum())
        q = q / lm_mass
        row = matrix.row(ids[max(0, t - max_depth) : t], prior, max_depth)
        p = row.predictive[:vocab]
        p = p / p.sum()
        nxt = ids[t]
        out.append(
            {
                "t": t,
                "token_id": nxt,
                "matched": row.matched,
                "count": row.levels[-1].total if row.levels else 0,
                "kl_matrix_lm": _kl_bits(p, q),
                "kl_lm_matrix": _kl_bits(q, p),
                "lm_mass": lm_mass,
                "log2p_matrix": float(np.log2(p[nxt])),
                "log2p_lm": float(np.log2(max(q[nxt], 1e-300))),
                **{
                    f"log2p_mix{lam:.2f}": float(np.log2(lam * p[nxt] + (1 - lam) * q[nxt]))
                    for lam in LAMBDAS[1:-1]
                },
            }
        )
    return pd.DataFrame(out)


@dataclass
class Comparison(FrameResult):
    """Per-position frame and the summary figures (perplexities with bootstrap intervals)."""

    SCHEMA: ClassVar[Schema] = {
        "positions": {
            "window": "i", "matched": "i", "kl_matrix_lm": "f", "kl_lm_matrix": "f",
            "log2p_matrix": "f", "log2p_lm": "f",
        },
        "by_matched": {"kl_matrix_lm": "f", "kl_lm_matrix": "f"},
        "mixture": {"lambda": "f", "ppl": "f"},
    }  # fmt: skip

    positions: pd.DataFrame
    summary: dict[str, float]
    by_matched: pd.DataFrame
    mixture: pd.DataFrame


PARTS = ("positions", "by_matched", "mixture")


def comparison_inputs(
    matrix: IdealMatrix,
    lm: LanguageModel,
    ids: list[int],
    window: int,
    prior: str,
    max_depth: int,
) -> dict[str, object]:
    """Everything a comparison depends on: the index (its checksums), the model's identity,
    the tokens compared and the settings."""
    from bayesmatrix.results.store import digest

    meta = matrix.index.meta
    return {
        "index": digest([meta.get("fingerprint"), meta.get("tokens"), meta.get("checksums")]),
        "model": getattr(lm, "identity", getattr(lm, "name", "")),
        "tokens": digest(ids),
        "window": window,
        "prior": prior,
        "max_depth": max_depth,
        "version": COMPARE_VERSION,
    }


def bootstrap_windows(
    frame: pd.DataFrame,
    columns: dict[str, pd.Series],
    stat: Callable[[dict[str, float]], float],
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """A statistic of column sums and a 95% interval from resampling whole windows (positions
    within a window are not independent). `stat` gets the sums (and "n") over windows. With
    fewer than 3 windows there is no interval (nan): nothing to resample."""
    per = pd.DataFrame(columns).assign(n=1.0).groupby(frame["window"].to_numpy()).sum()
    sums = {c: per[c].to_numpy() for c in per.columns}
    if len(per) < 3:
        return float(stat({c: v.sum() for c, v in sums.items()})), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(per), size=(n_boot, len(per)))
    boot = np.array([stat({c: v[row].sum() for c, v in sums.items()}) for row in pick])
    value = stat({c: v.sum() for c, v in sums.items()})
    return float(value), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def _ppl_ci(frame: pd.DataFrame, column: str) -> tuple[float, float, float]:
    """Perplexity 2^(mean -log2 p) with its window-bootstrap interval."""
    return bootstrap_windows(frame, {"x": frame[column]}, lambda s: 2 ** (-s["x"] / s["n"]))


def kl_slope(
    frame: pd.DataFrame, column: str = "kl_matrix_lm", cap: int = 8
) -> tuple[float, float, float]:
    """Least-squares slope of a per-position KL on the matched suffix length (capped), bits per
    token of matched context, with its window-bootstrap interval."""
    x = frame["matched"].clip(upper=cap).astype(float)
    y = frame[column]

    def slope(s: dict[str, float]) -> float:
        n = s["n"]
        return (s["xy"] - s["x"] * s["y"] / n) / max(s["xx"] - s["x"] ** 2 / n, 1e-12)

    return bootstrap_windows(frame, {"x": x, "y": y, "xx": x * x, "xy": x * y}, slope)


def mixture_gain(frame: pd.DataFrame) -> tuple[float, float, float, float]:
    """(weight chosen on even windows, then on odd windows: mean log2-loss gain of the mixture
    over the LM in bits per token, with its interval); positive = the matrix adds information."""
    even, odd = frame[frame["window"] % 2 == 0], frame[frame["window"] % 2 == 1]
    if even.empty or odd.empty:
        raise BayesmatrixError("the mixture gain needs at least two windows of text")
    lam = float(LAMBDAS[int(np.argmax([even[_column(lam)].mean() for lam in LAMBDAS]))])
    gain = odd[_column(lam)] - odd["log2p_lm"]
    return (lam, *bootstrap_windows(odd, {"g": gain}, lambda s: s["g"] / s["n"]))


def summarise(frame: pd.DataFrame) -> Comparison:
    """Perplexities of the matrix, the LM and their mixtures; KL by matched suffix length."""
    summary: dict[str, float] = {
        "positions": float(len(frame)),
        "windows": float(frame["window"].nunique()),
    }
    for name, column in (("matrix", "log2p_matrix"), ("lm", "log2p_lm")):
        ppl, lo, hi = _ppl_ci(frame, column)
        summary |= {f"ppl_{name}": ppl, f"ppl_{name}_lo": lo, f"ppl_{name}_hi": hi}
    mix = []
    for lam in LAMBDAS:
        mix.append({"lambda": float(lam), "ppl": float(2 ** -frame[_column(lam)].mean())})
    mixture = pd.DataFrame(mix)
    best = mixture.loc[mixture["ppl"].idxmin()]
    # the weight is chosen on even windows and scored on odd ones, so the gain is not in-sample
    if frame["window"].nunique() > 1:
        lam, gain, lo, hi = mixture_gain(frame)
        odd = frame[frame["window"] % 2 == 1]
        summary |= {
            "mix_lambda_heldout": lam,
            "ppl_mix_heldout": float(2 ** -odd[_column(lam)].mean()),
            "ppl_lm_heldout": float(2 ** -odd["log2p_lm"].mean()),
            "mix_gain_bits": gain,
            "mix_gain_bits_lo": lo,
            "mix_gain_bits_hi": hi,
        }
    slope, lo, hi = kl_slope(frame)
    summary |= {"kl_slope_bits": slope, "kl_slope_bits_lo": lo, "kl_slope_bits_hi": hi}
    summary |= {
        "mix_lambda_best": float(best["lambda"]),
        "ppl_mix_best": float(best["ppl"]),
        "kl_matrix_lm_bits": float(frame["kl_matrix_lm"].mean()),
        "kl_lm_matrix_bits": float(frame["kl_lm_matrix"].mean()),
        "matched_mean": float(frame["matched"].mean()),
        "lm_mass_min": float(frame["lm_mass"].min()),
    }
    by = frame.assign(matched=frame["matched"].clip(upper=8)).groupby("matched")
    by_matched = by.agg(
        positions=("t", "size"),
        kl_matrix_lm=("kl_matrix_lm", "mean"),
        kl_lm_matrix=("kl_lm_matrix", "mean"),
        kl_matrix_lm_se=("kl_matrix_lm", "sem"),
        kl_lm_matrix_se=("kl_lm_matrix", "sem"),
        log2p_matrix=("log2p_matrix", "mean"),
        log2p_lm=("log2p_lm", "mean"),
    ).reset_index()
    return Comparison(frame, summary, by_matched, mixture)


def _window(
    matrix: IdealMatrix, lm: LanguageModel, piece: list[int], prior: str, max_depth: int, w: int
) -> pd.DataFrame:
    """One window's per-position comparison, tagged with its number."""
    return compare_window(matrix, lm, piece, prior, max_depth).assign(window=w)


def compare(
    matrix: IdealMatrix,
    lm: LanguageModel,
    text: str,
    out: str | Path | None = None,
    window: int = 256,
    max_tokens: int = 4096,
    prior: str = "dirichlet",
    max_depth: int = MAX_DEPTH,
    force: bool = False,
) -> Comparison:
    """Compare `lm` with the matrix on `text`, in windows of `window` tokens (at most
    `max_tokens` in all). With `out`, each finished window is saved and reused on a rerun
    (a damaged one is named, or with `force` computed again)."""
    if getattr(lm, "tokenizer", None) is None:
        raise BayesmatrixError("compare needs a LanguageModel from bayesmatrix.load")
    matrix.check_tokenizer(lm.tokenizer, lm.name)
    if window < 2 or max_tokens < 2:
        raise BayesmatrixError("window and max_tokens must be at least 2")
    ids = matrix.encode(text)[:max_tokens]
    if len(ids) < 2:
        raise BayesmatrixError("the text has fewer than 2 tokens; pass a longer held-out text")
    from bayesmatrix.results.store import fingerprint

    key = fingerprint(comparison_inputs(matrix, lm, ids, window, prior, max_depth))[:12]
    cells = [
        Cell((f"{w:05d}",), f"window {w}", _window, (matrix, lm, piece, prior, max_depth, w))
        for w, piece in enumerate(
            ids[start : start + window] for start in range(0, len(ids) - 1, window - 1)
        )  # windows overlap by one token
        if len(piece) >= 2
    ]
    if out is None:
        frames = [c.fn(*c.args) for c in cells]
    else:
        frames = Cells(Path(out) / "windows" / key, force).map(cells)
    return summarise(pd.concat(frames, ignore_index=True))
