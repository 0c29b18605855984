"""Scoring a trained model against the exact posterior predictive, in bits, per position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from bayesmatrix.bayes.information import entropy, kl
from bayesmatrix.windtunnel.train import EVAL_SEQUENCES, inputs_for


@torch.inference_mode()
def model_predictive(model: torch.nn.Module, x: np.ndarray, vocab: int) -> np.ndarray:
    """[n, T, V] the model's P(x_t | x_<t), renormalised over the task's V tokens."""
    logits = model(inputs_for(torch.from_numpy(x), vocab))[..., :vocab].double()
    return torch.softmax(logits, -1).numpy()


def gap_frame(
    exact: np.ndarray, model: np.ndarray, positions: np.ndarray | None = None
) -> pd.DataFrame:
    """Per position: mean KL(exact || model) and mean |H(model) - H(exact)|, in bits
    (`positions`: the positions these rows are, when only some are scored)."""
    kl_bits = kl(exact, model, base=2)
    h_exact = entropy(exact, base=2)
    h_model = entropy(model, base=2)
    return pd.DataFrame(
        {
            "position": np.arange(exact.shape[1]) if positions is None else positions,
            "kl_bits": kl_bits.mean(0),
            "entropy_gap_bits": np.abs(h_model - h_exact).mean(0),
            "exact_entropy_bits": h_exact.mean(0),
        }
    )


def evaluate(
    model: torch.nn.Module,
    task,
    n: int = EVAL_SEQUENCES,
    seed: int = 10_000,
) -> pd.DataFrame:
    """Gaps on n fresh sequences (a seed disjoint from training's sample seeds)."""
    x = task.sample(n, seed)
    return gap_frame(task.predictive(x), model_predictive(model, x, task.vocab))


def sequence_kl(exact: np.ndarray, model: np.ndarray) -> np.ndarray:
    """[n] mean KL(exact || model) in bits over positions, per sequence (for intervals)."""
    return kl(exact, model, base=2).mean(-1)


def entropy_statistics(exact: np.ndarray, model: np.ndarray, mask: np.ndarray) -> dict:
    """The two entropy statistics at the scored positions, in bits: the authors' (mean over
    positions of |mean over sequences of H_model - H_exact|: errors of opposite sign cancel)
    and ours (mean over positions and sequences of |H_model - H_exact|), and the mean KL
    there; plus the per-sequence differences [n, positions] that intervals resample."""
    diff = entropy(model[:, mask], base=2) - entropy(exact[:, mask], base=2)
    return {
        "authors_bits": float(np.abs(diff.mean(0)).mean()),
        "ours_bits": float(np.abs(diff).mean()),
        "kl_scored_bits": float(kl(exact[:, mask], model[:, mask], base=2).mean()),
        "entropy_diff": diff,
    }
