"""Training on fresh samples from a wind-tunnel task, with a time budget and checkpoints that
let a killed run resume where it stopped."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.windtunnel.nets import build, n_params
from bayesmatrix.windtunnel.tasks import Task


@dataclass
class TrainLog:
    arch: str
    steps: int
    seconds: float
    final_loss: float
    params: int


def inputs_for(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """[BOS, x_0, ..., x_{T-2}]: the model's row t then predicts x_t."""
    bos = torch.full((x.shape[0], 1), vocab, dtype=torch.long)
    return torch.cat([bos, x[:, :-1]], dim=1)


EVAL_SEQUENCES = 2000
BATCH = 64
CURVE_EVERY = 200  # steps per checkpoint and per point of the training curve
TRAIN_VERSION = 1  # of the training loop: a checkpoint of another version is not resumed


def _save_checkpoint(
    path: Path,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    step: int,
    elapsed: float,
    loss: float,
    curve: list[dict[str, float]],
) -> None:
    """Write a checkpoint atomically (a kill leaves the previous one whole), and beside it the
    training curve so far as curve.csv."""
    import io

    from bayesmatrix.results.io import write_bytes, write_text

    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step}
    buffer = io.BytesIO()
    torch.save({**state, "elapsed": elapsed, "loss": loss, "curve": curve}, buffer)
    write_bytes(path, buffer.getvalue())
    if curve:
        write_text(path.with_name("curve.csv"), pd.DataFrame(curve).to_csv(index=False))


def _curve_point(step: int, seconds: float, window: list[tuple[float, float]]) -> dict[str, float]:
    """One point of the training curve: the mean training loss (nats) over the steps since the
    last point and, for soft targets, the mean KL(target || model) at the trained positions in
    bits (the training loss less the target's entropy)."""
    losses, excess = np.array(window).T
    return {
        "step": step,
        "seconds": seconds,
        "loss": float(losses.mean()),
        "kl_bits": float(excess.mean() / np.log(2)),
    }


def _read_checkpoint(path: Path, force: bool) -> dict | None:
    """The checkpoint to resume from (None: start afresh). A damaged one (truncated, written
    over) is named, or with `force` set aside so training starts again."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=False)
        if not isinstance(state, dict) or not {"model", "opt", "step"} <= set(state):
            raise ValueError("not a training checkpoint")
        return state
    except Exception as exc:  # torch and pickle raise many types for a damaged file
        if force:
            path.unlink()
            return None
        raise BayesmatrixError(
            f"the training checkpoint {path} is damaged ({type(exc).__name__}); rerun with "
            "--force to start this training again"
        ) from None


def check_memory(task: Task, batch: int) -> None:
    """Fail fast when a wind tunnel on this vocabulary cannot fit: training holds parameters
    (weights, gradients, two Adam moments) and per step the logits over V + 1 tokens with their
    gradients; scoring holds about six float64 [n, T, V] arrays for n evaluation sequences."""
    from bayesmatrix.resources import check_memory as check

    vocab, length = task.vocab + 1, task.length
    params = vocab * 64 * 2 + 200_000
    training = 4.0 * (4 * params + 4 * batch * length * vocab)
    scoring = 8.0 * 6 * EVAL_SEQUENCES * length * vocab
    check(max(training, scoring), f"a wind tunnel with V={vocab - 1}", "lower --V")


def train(
    task,
    arch: str,
    out: str | Path,
    minutes: float = 15.0,
    max_steps: int = 100_000,
    batch: int = BATCH,
    lr: float = 3e-3,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    force: bool = False,
    threads: int = 1,
) -> tuple[nn.Module, TrainLog]:
    """Train `arch` on task samples until the time budget or max_steps; checkpoint every 200
    steps (model, optimiser, step, elapsed time) and resume from the last checkpoint, but only
    a checkpoint of the same task, architecture and settings (else refused unless `force`).
    `threads`: torch threads while training; these models are so small that a second thread
    gains 20% on an idle machine and loses 2-3x when another process holds a core
    (benchmarks/threads.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(task, arch, out, minutes, max_steps, batch, lr, seed, progress, force)
    finally:
        torch.set_num_threads(before)


def _train(
    task,
    arch: str,
    out: str | Path,
    minutes: float,
    max_steps: int,
    batch: int,
    lr: float,
    seed: int,
    progress: Callable[[int, float], None] | None,
    force: bool,
) -> tuple[nn.Module, TrainLog]:
    from bayesmatrix.results.io import write_json
    from bayesmatrix.results.store import digest, is_saved, mark_saved

    out = Path(out)
    if not (math.isfinite(minutes) and minutes > 0) or max_steps < 1:
        raise BayesmatrixError(
            f"training needs a positive, finite time budget and at least 1 step (minutes "
            f"{minutes}, steps {max_steps})"
        )
    check_memory(task, batch)
    config: dict[str, object] = {"task": type(task).__name__, "spec": digest(task), "arch": arch}
    config |= {"batch": batch, "lr": lr, "seed": seed, "version": TRAIN_VERSION}
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file() and not is_saved(out, config, force):
        ckpt.unlink()  # a checkpoint without a marker is of unknown settings: start afresh
    out.mkdir(parents=True, exist_ok=True)
    mark_saved(out, config)  # vouches for the settings of the checkpoints written below
    model = build(arch, task.vocab, task.length, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    step, elapsed, loss_value = 0, 0.0, float("nan")
    curve: list[dict[str, float]] = []
    state = _read_checkpoint(ckpt, force)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, loss_value = state["step"], state["elapsed"], state["loss"]
        curve = state.get("curve", [])
    budget = minutes * 60
    rng = torch.Generator().manual_seed(seed + 1)
    torch.randint(2**31, (step,), generator=rng)  # a resumed run continues the data stream
    start = time.perf_counter() - elapsed
    model.train()
    mask = getattr(task, "loss_mask", None)
    mask = None if mask is None else torch.from_numpy(mask)
    soft = bool(getattr(task, "soft_targets", False)) and mask is not None
    window: list[tuple[float, float]] = []  # (loss, KL to the soft target) since the last point
    while step < max_steps and time.perf_counter() - start < budget:
        frac = max((time.perf_counter() - start) / budget, step / max_steps)
        for group in opt.param_groups:  # cosine decay over whichever budget binds first
            group["lr"] = lr * 0.5 * (1 + torch.cos(torch.tensor(min(frac, 1.0) * torch.pi)))
        sample = task.sample(batch, int(torch.randint(2**31, (1,), generator=rng)))
        x = torch.from_numpy(sample)
        logits = model(inputs_for(x, task.vocab))[..., : task.vocab]
        if mask is not None:  # a task trained on some positions only (the authors' protocol)
            logits, x = logits[:, mask], x[:, mask]
        if soft:  # targets are distributions (the exact posterior at those positions)
            target = torch.from_numpy(task.predictive(sample)[:, mask]).float()
            loss = -(target * torch.log_softmax(logits, -1)).sum(-1).mean()
            entropy = -(target * torch.log(target.clamp_min(1e-30))).sum(-1).mean()
            excess = float(loss.detach() - entropy)  # cross-entropy - H(target) = KL, in nats
        else:
            loss = nn.functional.cross_entropy(logits.reshape(-1, task.vocab), x.reshape(-1))
            excess = float("nan")
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_value = loss.item()
        window.append((loss_value, excess))
        if progress:
            progress(step, loss_value)
        if step % CURVE_EVERY == 0:
            seconds = time.perf_counter() - start
            curve.append(_curve_point(step, seconds, window))
            window = []
            _save_checkpoint(ckpt, model, opt, step, seconds, loss_value, curve)
    log = TrainLog(arch, step, time.perf_counter() - start, loss_value, n_params(model))
    _save_checkpoint(ckpt, model, opt, step, log.seconds, loss_value, curve)
    write_json(out / "train.json", log.__dict__)
    model.eval()
    return model, log
