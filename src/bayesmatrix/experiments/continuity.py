"""Theorem 1 on a real model: the map from embeddings to next-token rows is continuous.

Three measurements at a chosen layer (rows come through the model's own final norm and
unembedding, see LanguageModel.rows_from_hidden):
- perturbation: rows at h + eps * |h| * u for random unit u; TV and KL against eps, the
  log-log slope at small eps and empirical Lipschitz constants TV / |delta|;
- interpolation: the row at lambda h1 + (1 - lambda) h2 against lambda p1 + (1 - lambda) p2
  (the paper's convexity-preservation assumption);
- neighbours: a held-out position's row predicted by the mean row of its k nearest neighbours
  in embedding space, against the unigram (mean) row and k random neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from bayesmatrix.bayes.information import kl, tv
from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

EPS_GRID = tuple(float(x) for x in np.logspace(-4, 0, 9))
LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)
CONVEXITY_TOLERANCE = 0.1  # TV(row at the mixed embedding, mixed row) / TV(p1, p2) at lambda=0.5
SLOPE = Rule("the log-log slope of TV against eps", above=0.5, refute_at=0.1, id="continuity.slope")
CONVEX = Rule(
    "TV(row at the mixed embedding, mixed row) / TV(p1, p2) at lambda 0.5",
    below=CONVEXITY_TOLERANCE,
    id="continuity.convexity",
)
NEIGHBOURS = Rule(
    "the KL gain of k nearest neighbours over k random positions",
    above=0,
    id="continuity.neighbours",
)


def _hidden(lm: LanguageModel) -> Any:
    """The model as the backend that reads hidden states (the claim requires them, so only
    such a backend gets here): its layer indexing is its own."""
    return lm


def hidden_bank(
    lm: LanguageModel, text: str, n: int, layer: int, window: int = 128, stride: int = 1
) -> np.ndarray:
    """[n, d] hidden states of `layer` at n positions of text (windows of `window` tokens,
    every `stride`-th position after the first 8 of each window, for some context)."""
    ids, _ = lm.tokenize(text)
    layer = _hidden(lm).layer_indices([layer])[0]
    per_window = len(range(8, window, stride))
    needed = -(-n // per_window)
    windows = [lm.with_bos(ids[i : i + window]) for i in range(0, len(ids) - window + 1, window)]
    windows = windows[:needed]
    if len(windows) < needed:
        raise BayesmatrixError(
            f"text gives {len(windows) * per_window} positions at stride {stride}; need {n}"
        )
    out = []
    for start in range(0, len(windows), 4):
        _, hidden = lm.forward_hidden(windows[start : start + 4], [layer])
        skip = 8 + (1 if lm.adds_bos else 0)
        out.append(hidden[layer][:, skip::stride].reshape(-1, lm.hidden_size).float().cpu().numpy())
    return np.concatenate(out)[:n]


def perturbation(
    lm: LanguageModel,
    hidden: np.ndarray,
    layer: int,
    eps_grid: tuple[float, ...] = EPS_GRID,
    directions: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """TV and KL between the row at h and at h + eps |h| u, per (prompt, direction, eps)."""
    if not eps_grid or min(eps_grid) <= 0:
        raise BayesmatrixError(f"eps values must be positive, got {eps_grid}")
    rng = np.random.default_rng(seed)
    base = lm.rows_from_hidden(hidden, layer)
    rows = []
    for d in range(directions):
        u = rng.normal(size=hidden.shape)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        scale = np.linalg.norm(hidden, axis=1, keepdims=True)
        for eps in eps_grid:
            delta = eps * scale * u
            moved = lm.rows_from_hidden(hidden + delta, layer)
            dist = tv(base, moved)
            for i in range(len(hidden)):
                rows.append(
                    {
                        "prompt": i,
                        "direction": d,
                        "eps": eps,
                        "tv": dist[i],
                        "kl": kl(base[i], moved[i]),
                        "delta_norm": float(np.linalg.norm(delta[i])),
                    }
                )
    return pd.DataFrame(rows)


def interpolation(
    lm: LanguageModel,
    h1: np.ndarray,
    h2: np.ndarray,
    layer: int,
    lambdas: tuple[float, ...] = LAMBDAS,
) -> pd.DataFrame:
    """For each pair: TV between the row at the mixed embedding and the mixed row."""
    p1, p2 = lm.rows_from_hidden(h1, layer), lm.rows_from_hidden(h2, layer)
    gap = tv(p1, p2)
    rows = []
    for lam in lambdas:
        at_mix = lm.rows_from_hidden(lam * h1 + (1 - lam) * h2, layer)
        mixed = lam * p1 + (1 - lam) * p2
        dist = tv(at_mix, mixed)
        for i in range(len(h1)):
            rows.append(
                {
                    "pair": i,
                    "lambda": lam,
                    "tv_to_mixture": dist[i],
                    "tv_endpoints": gap[i],
                    "relative": dist[i] / max(gap[i], 1e-12),
                }
            )
    return pd.DataFrame(rows)


def neighbours(
    lm: LanguageModel, bank: np.ndarray, held_out: np.ndarray, layer: int, k: int = 8, seed: int = 0
) -> pd.DataFrame:
    """KL(true row || predicted) for held-out positions: mean of the k nearest bank rows
    (cosine), the unigram (mean bank row), and the mean of k random bank rows."""
    if not 1 <= k <= len(bank):
        raise BayesmatrixError(f"k must be between 1 and the bank size {len(bank)}")
    bank_rows = lm.rows_from_hidden(bank, layer).astype(np.float32)
    unigram = bank_rows.mean(axis=0, dtype=np.float64)
    truth = lm.rows_from_hidden(held_out, layer)
    a = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    b = held_out / np.linalg.norm(held_out, axis=1, keepdims=True)
    nearest = np.argsort(-(b @ a.T), axis=1)[:, :k]
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(len(held_out)):
        knn = bank_rows[nearest[i]].mean(axis=0, dtype=np.float64)
        rand = bank_rows[rng.choice(len(bank), size=k, replace=False)].mean(
            axis=0, dtype=np.float64
        )
        rows.append(
            {
                "position": i,
                "kl_knn": kl(truth[i], knn),
                "kl_unigram": kl(truth[i], unigram),
                "kl_random_k": kl(truth[i], rand),
            }
        )
    return pd.DataFrame(rows)


def loglog_slopes(frame: pd.DataFrame, small: int = 5) -> np.ndarray:
    """Per (prompt, direction): slope of log TV against log eps over the `small` smallest eps."""
    eps = np.sort(frame["eps"].unique())[:small]
    sub = frame[frame["eps"].isin(eps)]
    slopes = []
    for _, g in sub.groupby(["prompt", "direction"]):
        x, y = np.log(g["eps"]), np.log(np.maximum(g["tv"], 1e-300))
        slopes.append(np.polyfit(x, y, 1)[0])
    return np.asarray(slopes)


@dataclass
class ContinuityResult(FrameResult):
    """The three frames of one model and layer, with verdicts."""

    SCHEMA: ClassVar[Schema] = {
        "perturbation": {"prompt": "i", "direction": "i", "eps": "f", "tv": "f", "delta_norm": "f"},
        "interpolation": {"lambda": "f", "relative": "f"},
        "neighbours": {"kl_knn": "f", "kl_unigram": "f", "kl_random_k": "f"},
    }

    model: str
    layer: int
    perturbation: pd.DataFrame
    interpolation: pd.DataFrame
    neighbours: pd.DataFrame

    def summary(self) -> dict[str, float]:
        slopes = loglog_slopes(self.perturbation)
        s, s_lo, s_hi = bootstrap_mean_ci(slopes)
        smallest = self.perturbation["eps"].min()
        p = self.perturbation
        lip = (p["tv"] / p["delta_norm"]).to_numpy()
        mid = self.interpolation[self.interpolation["lambda"] == 0.5]["relative"].to_numpy()
        r, r_lo, r_hi = bootstrap_mean_ci(mid)
        nb = self.neighbours
        g, g_lo, g_hi = bootstrap_mean_ci((nb["kl_random_k"] - nb["kl_knn"]).to_numpy())
        u, u_lo, u_hi = bootstrap_mean_ci((nb["kl_unigram"] - nb["kl_knn"]).to_numpy())
        return {
            "slope": s,
            "slope_lo": s_lo,
            "slope_hi": s_hi,
            "tv_at_smallest_eps": float(p.loc[p["eps"] == smallest, "tv"].median()),
            "smallest_eps": float(smallest),
            "lipschitz_median": float(np.median(lip)),
            "lipschitz_max": float(lip.max()),
            "convexity_gap": r,
            "convexity_gap_lo": r_lo,
            "convexity_gap_hi": r_hi,
            "kl_knn": float(nb["kl_knn"].mean()),
            "kl_unigram": float(nb["kl_unigram"].mean()),
            "kl_random_k": float(nb["kl_random_k"].mean()),
            "knn_gain_vs_random": g,
            "knn_gain_vs_random_lo": g_lo,
            "knn_gain_vs_random_hi": g_hi,
            "knn_gain_vs_unigram": u,
            "knn_gain_vs_unigram_lo": u_lo,
            "knn_gain_vs_unigram_hi": u_hi,
        }

    def verdicts(self) -> list[Verdict]:
        """Continuity: TV must fall as a power of eps (slope > 0.5 at small eps, 95% lower
        bound); a slope below 0.1 means TV does not vanish. The absolute TV at the smallest
        eps is reported but not judged: it scales with the layer's norm."""
        s = self.summary()
        where = f"{self.model}, layer {self.layer}"
        cont = (
            f"{where}: log-log slope of TV against eps {s['slope']:.3f} "
            f"[{s['slope_lo']:.3f}, {s['slope_hi']:.3f}]; median TV at eps="
            f"{s['smallest_eps']:.0e} is {s['tv_at_smallest_eps']:.2e}; empirical Lipschitz "
            f"constant TV/|delta| median {s['lipschitz_median']:.3g}, max "
            f"{s['lipschitz_max']:.3g}"
        )
        conv = (
            f"{where}: TV(row at the mixed embedding, mixed row) / TV(p1, p2) at lambda=0.5 "
            f"is {s['convexity_gap']:.3f} [{s['convexity_gap_lo']:.3f}, "
            f"{s['convexity_gap_hi']:.3f}] (tolerance {CONVEXITY_TOLERANCE})"
        )
        knn = (
            f"{where}: KL to the true row, k nearest neighbours {s['kl_knn']:.3f} nats vs "
            f"k random positions {s['kl_random_k']:.3f} (gain {s['knn_gain_vs_random']:.3f} "
            f"[{s['knn_gain_vs_random_lo']:.3f}, {s['knn_gain_vs_random_hi']:.3f}]) vs "
            f"unigram {s['kl_unigram']:.3f}"
        )
        return [
            Verdict.from_rules(
                "Theorem 1: rows depend continuously on the embedding",
                cont,
                [SLOPE.status(s["slope_lo"], s["slope_hi"])],
                subject=self.model,
                **SLOPE.record(s["slope"], s["slope_lo"], s["slope_hi"]),
            ),
            Verdict.from_rules(
                "The embedding-to-row map preserves convexity (the paper's assumption)",
                conv,
                [CONVEX.status(s["convexity_gap_lo"], s["convexity_gap_hi"])],
                subject=self.model,
                **CONVEX.record(s["convexity_gap"], s["convexity_gap_lo"], s["convexity_gap_hi"]),
            ),
            Verdict.from_rules(
                "Nearby embeddings give nearby rows (neighbours predict unseen rows)",
                knn,
                [NEIGHBOURS.status(s["knn_gain_vs_random_lo"], s["knn_gain_vs_random_hi"])],
                subject=self.model,
                **NEIGHBOURS.record(
                    s["knn_gain_vs_random"], s["knn_gain_vs_random_lo"], s["knn_gain_vs_random_hi"]
                ),
            ),
        ]


def run_continuity(
    lm: LanguageModel,
    text: str,
    layer: int = -1,
    n_prompts: int = 48,
    n_bank: int = 400,
    n_held_out: int = 100,
    k: int = 8,
    seed: int = 0,
) -> ContinuityResult:
    """All three measurements at one layer, on positions of a text: the bank comes from the
    first part of the text, held-out positions from a later, disjoint part."""
    if n_prompts < 2 or n_bank < 2 or n_held_out < 1 or not 1 <= k <= n_bank:
        raise BayesmatrixError(
            f"continuity needs at least 2 prompts (--prompts, got {n_prompts}), a bank of at "
            f"least 2 (--bank, got {n_bank}) and 1 <= k <= bank (--k, got {k})"
        )
    layer_index = _hidden(lm).layer_indices([layer])[0]
    positions = hidden_bank(lm, text, n_bank + n_held_out + 2 * n_prompts, layer_index, stride=2)
    bank, held = positions[:n_bank], positions[n_bank : n_bank + n_held_out]
    probe = positions[n_bank + n_held_out :]
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(len(probe))
    return ContinuityResult(
        lm.name,
        layer_index,
        perturbation(lm, probe[:n_prompts], layer_index, seed=seed),
        interpolation(
            lm,
            probe[pairs[: n_prompts // 2]],
            probe[pairs[n_prompts // 2 : n_prompts]],
            layer_index,
        ),
        neighbours(lm, bank, held, layer_index, k=k, seed=seed),
    )
