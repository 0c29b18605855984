"""The geometry of Bayesian inference (after Agarwal, Dalal & Misra, Papers I and III).

Their finding: last-layer representations line up along one axis that tracks predictive
entropy, and ablating that axis disturbs the geometry but not the Bayesian behaviour ("a
readout, not a bottleneck"). Here, for any model `load` returns (wind-tunnel transformers
included), at scored positions:

- the entropy axis: PC1 of the last layer's (normed) states, and the Spearman correlation of
  PC1 with the model's predictive entropy and with the exact (Bayes) entropy, with bootstrap
  intervals over positions (the axis held fixed); a cross-validated linear probe of entropy
  from the whole state as the "decodable" ceiling;
- the ablation: PC1 projected out (set to its mean) and the distribution read again through the
  model's own head; the change in Bayesian error (mean |H_model - H_Bayes|) against the same
  ablation of random directions of the top-10 principal subspace (the control).

The SULA protocol (semantically unrelated single-token labels with label noise, k in
{0, 1, 2, 4, 8}, 50 prompts per k) follows the authors' description: each demonstration label is
a noisy (alpha = 0.9) glimpse of one latent label, so the Bayes posterior over the two labels
is known exactly; the carrier words are decorative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from bayesmatrix.bayes.stats import bootstrap_mean_ci
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.frame import FrameResult, Schema
from bayesmatrix.results.verdicts import Rule, Verdict

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel
    from bayesmatrix.windtunnel.tasks import Task

DECODABLE_RHO = 0.5  # |Spearman(PC1, entropy)| must exceed this for "decodable along PC1"
READOUT_BITS = 0.05  # ablating PC1 may change the Bayesian error by at most this (bits)
DECODABLE = Rule("Spearman(PC1, model entropy)", above=DECODABLE_RHO, id="geometry.decodable")
READOUT = Rule(
    "the change in Bayesian error when PC1 is projected out",
    within=READOUT_BITS,
    unit=" bits",
    id="geometry.readout",
)
CONTROL_SUBSPACE = 10  # random control directions are drawn in the top-10 principal subspace
SULA_KS = (0, 1, 2, 4, 8)
SULA_ALPHA = 0.9
SULA_LABELS = ("dax", "wug", "lug", "mip", "zorb", "kep", "tuv", "gax", "fep", "blick")
# carrier words (decorative: the Bayes model ignores them), written for this toolkit
CARRIERS = (
    "sunny", "bright", "gentle", "kind", "warm", "merry", "lively", "sweet", "fresh", "calm",
    "eager", "brave", "clever", "proud", "jolly", "fond", "neat", "bold", "fair", "keen",
    "gloomy", "harsh", "grim", "sour", "dull", "cold", "bleak", "tense", "weary", "rude",
    "cruel", "bitter", "stale", "murky", "vain", "lazy", "shy", "mean", "grumpy", "dim",
)  # fmt: skip


def _bits(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of rows of probabilities."""
    q = np.clip(p, 1e-300, 1.0)
    return -(p * np.log2(q)).sum(-1)


# ---- the axis and its tests (arrays in, numbers out) ------------------------------------------
def entropy_axis(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [d], principal axes [r, d] by decreasing variance, explained variance ratios)."""
    h = np.asarray(hidden, dtype=np.float64)
    if h.ndim != 2 or len(h) < 3:
        raise BayesmatrixError("the entropy axis needs at least 3 states of one dimension")
    mean = h.mean(0)
    _, s, vt = np.linalg.svd(h - mean, full_matrices=False)
    return mean, vt, s**2 / max((s**2).sum(), 1e-300)


def project_out(hidden: np.ndarray, mean: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """States with their component along a unit axis set to the mean's (the axis ablated)."""
    h = np.asarray(hidden, dtype=np.float64)
    u = axis / np.linalg.norm(axis)
    return h - np.outer((h - mean) @ u, u)


def spearman_ci(
    x: np.ndarray, y: np.ndarray, bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Spearman's rho and a 95% percentile bootstrap interval over the pairs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan"), float("nan")
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        i = rng.integers(len(x), size=len(x))
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            draws.append(stats.spearmanr(x[i], y[i]).statistic)
    lo, hi = np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"),) * 2
    return rho, float(lo), float(hi)


def probe_r2(hidden: np.ndarray, target: np.ndarray, folds: int = 5, ridge: float = 1e-3) -> float:
    """Cross-validated R^2 of a ridge-regularised linear probe of target from the states."""
    h = np.asarray(hidden, float)
    y = np.asarray(target, float)
    order = np.random.default_rng(0).permutation(len(y))
    pred = np.empty_like(y)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        mu, ym = h[train].mean(0), y[train].mean()
        a = h[train] - mu
        w = np.linalg.solve(
            a.T @ a + ridge * len(train) * np.eye(a.shape[1]), a.T @ (y[train] - ym)
        )
        pred[part] = (h[part] - mu) @ w + ym
    return float(1 - ((y - pred) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-300))


def analyse_geometry(
    hidden: np.ndarray,
    readout: Callable[[np.ndarray], np.ndarray],
    exact_entropy: np.ndarray | None = None,
    bootstrap: int = 1000,
    controls: int = 20,
    seed: int = 0,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Every number of the geometry claim from states [N, d], the function that turns states
    into the scored distributions [N, K] (the model's own head, restricted and renormalised),
    and the exact entropy per state (NaN where unknown); each state's PC1 coordinate (oriented
    to rise with entropy); and the scored distributions themselves."""
    h = np.asarray(hidden, float)
    probs = readout(h)
    entropy = _bits(probs)
    exact = np.full(len(h), np.nan) if exact_entropy is None else np.asarray(exact_entropy, float)
    mean, axes, ratio = entropy_axis(h)
    pc1 = (h - mean) @ axes[0]
    if stats.spearmanr(pc1, entropy).statistic < 0:  # the axis' sign is arbitrary: orient it
        pc1, axes[0] = -pc1, -axes[0]
    rho, lo, hi = spearman_ci(pc1, entropy, bootstrap, seed)
    rho_x, lo_x, hi_x = spearman_ci(pc1, exact, bootstrap, seed)
    ablated = _bits(readout(project_out(h, mean, axes[0])))
    out = {
        "states": len(h), "dim": h.shape[1], "pc1_variance": float(ratio[0]),
        "rho_model": rho, "rho_model_lo": lo, "rho_model_hi": hi,
        "rho_exact": rho_x, "rho_exact_lo": lo_x, "rho_exact_hi": hi_x,
        "probe_r2": probe_r2(h, entropy),
        "entropy_change": float(np.abs(ablated - entropy).mean()),
    }  # fmt: skip
    known = np.isfinite(exact)
    if known.any():
        error = np.abs(entropy - exact)[known]
        change = np.abs(ablated - exact)[known] - error
        d, d_lo, d_hi = bootstrap_mean_ci(change, n_boot=max(bootstrap, 1), seed=seed)
        rng = np.random.default_rng([seed, 3])
        span = axes[1 : min(CONTROL_SUBSPACE, len(axes))]
        control = []
        for _ in range(controls if len(span) else 0):
            direction = rng.normal(size=len(span)) @ span
            moved = _bits(readout(project_out(h, mean, direction)))
            control.append(float((np.abs(moved - exact)[known] - error).mean()))
        out |= {
            "bayes_error": float(error.mean()),
            "ablation_change": d, "ablation_change_lo": d_lo, "ablation_change_hi": d_hi,
            "control_change": float(np.mean(control)) if control else float("nan"),
        }  # fmt: skip
    return out, pc1, probs


def constructed_states(
    read_axis: int, big_axis: int, n: int = 400, seed: int = 0
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray], np.ndarray]:
    """States in R^6 whose geometry is known (examples and tests): t in [0, 4] is written
    along e_big with a large spread; the head reads p1 = sigmoid(factor * state . e_read).
    With read_axis == big_axis the head reads the big axis itself (a bottleneck); otherwise
    e_read carries +2t and -2t for each t (uncorrelated with e_big, so PC1 stays e_big: a
    readout the head ignores). Returns the states, the readout and t."""
    rng = np.random.default_rng(seed)
    t = np.repeat(rng.uniform(0, 4, n // 2), 2)  # each t twice: once with each sign below
    h = rng.normal(0, 0.01, (len(t), 6))
    h[:, big_axis] += 20 * t
    if read_axis != big_axis:
        h[:, read_axis] += 2 * t * np.tile([1.0, -1.0], n // 2)
    e = np.eye(6)[read_axis]
    factor = 1.0 if read_axis != big_axis else 0.05

    def readout(states: np.ndarray) -> np.ndarray:
        p1 = 1 / (1 + np.exp(-factor * (states @ e)))
        return np.column_stack([1 - p1, p1])

    return h, readout, t


# ---- readings from a model ---------------------------------------------------------------------
@dataclass
class GeometryReadings:
    """Last-layer states at scored positions, the token ids the scored distribution is over,
    the exact entropy (bits; NaN when unknown) and a group per state (k, or position)."""

    hidden: np.ndarray
    restrict: np.ndarray
    exact_entropy: np.ndarray
    group: np.ndarray


def read_states(
    lm: LanguageModel,
    sources: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int]],
    batch_size: int = 16,
) -> np.ndarray:
    """[sum of positions, d] last-layer (normed) states: for each source (token ids, BOS
    included if wanted), its states at the given positions (state t predicts token t + 1).
    One batched forward pass per batch, no rows formed."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    picked: dict[int, np.ndarray] = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        last, _ = lm.forward_hidden([[int(t) for t in sources[i]] for i in chunk])
        for row, i in enumerate(chunk):
            picked[i] = last[row, list(positions[i])].float().cpu().numpy()
    return np.concatenate([picked[i] for i in range(len(sources))]).astype(np.float64)


def lm_readout(lm: LanguageModel, restrict: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Last-layer states -> the model's next-token distribution restricted to `restrict` and
    renormalised (a softmax over those logits only: the head's other columns cancel)."""
    import torch

    hf: Any = lm  # the backend that reads hidden states (geometry requires it): its head
    ids = torch.as_tensor(list(restrict), device=hf.device)

    def readout(hidden: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            h = torch.as_tensor(hidden, dtype=torch.float32).to(hf.device, hf.dtype)
            logits = hf.to_logits(h, columns=ids).double()
            return torch.softmax(logits, -1).cpu().numpy()

    return readout


def sula_labels(lm: LanguageModel) -> tuple[str, str]:
    """Two nonsense labels that are one token each (with a leading space): the candidates
    first, then a consonant-vowel-consonant sweep (as the authors fall back to)."""
    sweep = (c1 + v + c2 for c1 in "bcdfghjklmnpqrstvwxz" for v in "aeiou" for c2 in "bdgkmptxz")
    found: list[str] = []
    for word in (*SULA_LABELS, *sweep):
        if len(lm.encode(" " + word)) == 1 and word not in found:
            found.append(word)
            if len(found) == 2:
                return found[0], found[1]
    raise BayesmatrixError(f"{lm.name} has no two single-token labels; SULA cannot run on it")


def sula_prompts(
    labels: tuple[str, str], ks: Sequence[int] = SULA_KS, per_k: int = 50, seed: int = 42
) -> pd.DataFrame:
    """SULA prompts: a latent label per prompt, k demonstrations 'word: label' each showing
    the latent label with probability alpha, then 'test:'; the exact Bayes posterior over the
    two labels (uniform prior, likelihood alpha per matching label)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in ks:
        for i in range(per_k):
            latent = int(rng.integers(2))
            shown = [latent if rng.random() < SULA_ALPHA else 1 - latent for _ in range(k)]
            words = [CARRIERS[j] for j in rng.integers(len(CARRIERS), size=k + 1)]
            demos = ", ".join(f"{w}: {labels[y]}" for w, y in zip(words, shown, strict=False))
            text = f"{demos}. {words[-1]}:" if k else f"{words[-1]}:"
            ones = sum(shown)
            log_odds = (ones - (k - ones)) * np.log(SULA_ALPHA / (1 - SULA_ALPHA))
            p1 = float(1 / (1 + np.exp(-log_odds)))  # P(latent = labels[1] | shown)
            rows.append(
                {"k": k, "prompt": i, "text": text, "latent": latent, "shown_ones": ones,
                 "bayes_p1": p1, "bayes_entropy": float(_bits(np.array([1 - p1, p1])))}
            )  # fmt: skip
    return pd.DataFrame(rows)


def run_sula_geometry(
    lm: LanguageModel, per_k: int = 50, bootstrap: int = 1000, seed: int = 42
) -> GeometryResult:
    """The SULA protocol on a language model: the two-label entropy against the Bayes-optimal
    one per k, and the geometry of the last-layer state at the answer position."""
    labels = sula_labels(lm)
    prompts = sula_prompts(labels, per_k=per_k, seed=seed)
    sources = [lm.with_bos(lm.encode(t)) for t in prompts["text"]]
    hidden = read_states(lm, sources, [[len(s) - 1] for s in sources])
    restrict = [lm.encode(" " + w)[0] for w in labels]
    readout = lm_readout(lm, restrict)
    numbers, pc1, probs = analyse_geometry(
        hidden, readout, prompts["bayes_entropy"].to_numpy(), bootstrap
    )
    frame = prompts.assign(model=lm.name, p1=probs[:, 1], entropy=_bits(probs), pc1=pc1)
    return GeometryResult(lm.name, "sula", frame, numbers)


def run_windtunnel_geometry(
    lm: LanguageModel,
    task: Task,
    n: int = 400,
    bootstrap: int = 1000,
    seed: int = 10_000,
    name: str | None = None,
) -> GeometryResult:
    """A wind-tunnel transformer (saved and loaded as a LanguageModel) on fresh task
    sequences: states at every scored position (all positions unless the task has a
    score_mask) against the exact posterior entropy there."""
    x = task.sample(n, seed)
    vocab = task.vocab
    exact = task.predictive(x)
    mask = getattr(task, "score_mask", None)
    positions = np.flatnonzero(mask) if mask is not None else np.arange(x.shape[1])
    sources = [[vocab, *row.tolist()] for row in x]  # BOS (id V) first: state t predicts x_t
    hidden = read_states(lm, sources, [positions.tolist()] * len(x))
    exact_h = _bits(exact[:, positions]).reshape(-1)
    readout = lm_readout(lm, range(vocab))
    numbers, pc1, probs = analyse_geometry(hidden, readout, exact_h, bootstrap)
    frame = pd.DataFrame(
        {"model": name or lm.name, "position": np.tile(positions, len(x)),
         "entropy": _bits(probs), "bayes_entropy": exact_h, "pc1": pc1}
    )  # fmt: skip
    return GeometryResult(name or lm.name, "windtunnel", frame, numbers)


@dataclass
class GeometryResult(FrameResult):
    """One model's geometry: per-state readings and the numbers of analyse_geometry."""

    SCHEMA: ClassVar[Schema] = {"frame": {"entropy": "f", "bayes_entropy": "f"}}

    model: str
    protocol: str  # "sula" or "windtunnel"
    frame: pd.DataFrame
    numbers: dict[str, float]

    def by_k(self) -> pd.DataFrame:
        """SULA: mean model and Bayes entropy per k (the authors' entropy-vs-k curve)."""
        key = "k" if "k" in self.frame else "position"
        return self.frame.groupby(key)[["entropy", "bayes_entropy"]].mean().reset_index()

    def verdicts(self) -> list[Verdict]:
        return geometry_verdicts(self.model, self.protocol, self.numbers)


def geometry_verdicts(model: str, protocol: str, g: dict[str, float]) -> list[Verdict]:
    """Decodable: Spearman(PC1, model entropy) above DECODABLE_RHO. Readout, not bottleneck:
    ablating PC1 changes the Bayesian error by less than READOUT_BITS (its interval)."""
    where = "SULA prompts" if protocol == "sula" else "wind-tunnel sequences"
    first = Verdict.from_rules(
        f"The predictive entropy of {model} is decodable along PC1 of its last-layer states "
        f"({where})",
        f"Spearman(PC1, model entropy) {g['rho_model']:.3f} [{g['rho_model_lo']:.3f}, "
        f"{g['rho_model_hi']:.3f}], with the Bayes entropy {g['rho_exact']:.3f} "
        f"[{g['rho_exact_lo']:.3f}, {g['rho_exact_hi']:.3f}]; PC1 holds "
        f"{g['pc1_variance']:.1%} of the variance; a linear probe on all {int(g['dim'])} "
        f"dimensions reaches cross-validated R^2 {g['probe_r2']:.3f} ({int(g['states'])} states)",
        [DECODABLE.status(g["rho_model_lo"], g["rho_model_hi"])],
        subject=model,
        **DECODABLE.record(g["rho_model"], g["rho_model_lo"], g["rho_model_hi"]),
    )
    if "ablation_change" not in g:
        return [first]
    second = Verdict.from_rules(
        f"Ablating that axis leaves the Bayesian behaviour of {model} intact (a readout, not a "
        f"bottleneck; {where})",
        f"Bayesian error mean |H_model - H_Bayes| {g['bayes_error']:.4f} bits; projecting PC1 "
        f"out changes it by {g['ablation_change']:+.4f} [{g['ablation_change_lo']:+.4f}, "
        f"{g['ablation_change_hi']:+.4f}] bits (tolerance {READOUT_BITS}) and the entropy by "
        f"{g['entropy_change']:.4f} bits on average; random directions of the top "
        f"{CONTROL_SUBSPACE} principal subspace: {g['control_change']:+.4f}",
        [
            READOUT.status(g["ablation_change_lo"], g["ablation_change_hi"]),
        ],
        subject=model,
        **READOUT.record(g["ablation_change"], g["ablation_change_lo"], g["ablation_change_hi"]),
    )
    return [first, second]
