"""Training on fresh samples from a wind-tunnel task, with a time budget and checkpoints that
let a killed run resume where it stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bayesmatrix.windtunnel.nets import build, n_params


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


def train(
    task,
    arch: str,
    out: str | Path,
    minutes: float = 15.0,
    max_steps: int = 100_000,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[nn.Module, TrainLog]:
    """Train `arch` on task samples until the time budget or max_steps; checkpoint every 200
    steps (model, optimiser, step, elapsed time) and resume from the last checkpoint."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = build(arch, task.vocab, task.length, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    step, elapsed, loss_value = 0, 0.0, float("nan")
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, loss_value = state["step"], state["elapsed"], state["loss"]
    budget = minutes * 60
    rng = torch.Generator().manual_seed(seed + 1)
    torch.randint(2**31, (step,), generator=rng)  # a resumed run continues the data stream
    start = time.perf_counter() - elapsed
    model.train()
    while step < max_steps and time.perf_counter() - start < budget:
        frac = max((time.perf_counter() - start) / budget, step / max_steps)
        for group in opt.param_groups:  # cosine decay over whichever budget binds first
            group["lr"] = lr * 0.5 * (1 + torch.cos(torch.tensor(min(frac, 1.0) * torch.pi)))
        x = torch.from_numpy(task.sample(batch, int(torch.randint(2**31, (1,), generator=rng))))
        logits = model(inputs_for(x, task.vocab))[..., : task.vocab]
        loss = nn.functional.cross_entropy(logits.reshape(-1, task.vocab), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_value = loss.item()
        if progress:
            progress(step, loss_value)
        if step % 200 == 0:
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "elapsed": time.perf_counter() - start,
                    "loss": loss_value,
                },
                ckpt,
            )
    log = TrainLog(arch, step, time.perf_counter() - start, loss_value, n_params(model))
    torch.save(
        {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "step": step,
            "elapsed": log.seconds,
            "loss": loss_value,
        },
        ckpt,
    )
    (out / "train.json").write_text(json.dumps(log.__dict__))
    model.eval()
    return model, log
