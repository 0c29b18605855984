"""Architectures against the exact posterior on one task: KL per position and per sequence,
with bootstrap intervals, and the verdicts the wind tunnel supports or refutes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bayesmatrix.experiments.result import bootstrap_mean_ci
from bayesmatrix.experiments.verdicts import Verdict, rule

TARGET_BITS = 0.01  # the transformer must match the posterior to this, per position
MLP_FACTOR = 10  # and a parameter-matched MLP be at least this many times further


@dataclass
class WindTunnelResult:
    """frame: one row per (arch, position) with KL(exact || model) and the entropy gap in bits;
    summary: per arch the mean KL per position with a bootstrap interval over sequences, the
    parameter count, steps and training seconds."""

    task: str
    steps: int
    frame: pd.DataFrame
    summary: pd.DataFrame

    def _arch(self, arch: str) -> pd.Series:
        return self.summary.set_index("arch").loc[arch]

    def verdicts(self) -> list[Verdict]:
        t = self._arch("transformer")
        out = [
            Verdict.from_rules(
                f"A small transformer trained for {self.steps} steps matches the exact posterior "
                f"to {TARGET_BITS} bits per position",
                f"transformer ({int(t['params'])} parameters, {int(t['steps'])} steps, "
                f"{t['seconds']:.0f} s): mean KL(exact || model) {t['kl']:.4f} [{t['kl_lo']:.4f}, "
                f"{t['kl_hi']:.4f}] bits per position",
                [rule(t["kl_lo"], t["kl_hi"], below=TARGET_BITS)],
            )
        ]
        if "mlp" in set(self.summary["arch"]):
            m = self._arch("mlp")
            # the ratio's interval from the two intervals' ends (conservative)
            out.append(
                Verdict.from_rules(
                    f"A parameter-matched MLP is at least {MLP_FACTOR}x further from the posterior",
                    f"MLP ({int(m['params'])} parameters): {m['kl']:.4f} [{m['kl_lo']:.4f}, "
                    f"{m['kl_hi']:.4f}] bits, {m['kl'] / t['kl']:.1f}x the transformer's",
                    [rule(m["kl_lo"] / t["kl_hi"], m["kl_hi"] / t["kl_lo"], above=MLP_FACTOR)],
                )
            )
        return out

    def frames(self) -> dict[str, pd.DataFrame]:
        """Per-position gap frames by architecture (for plot_kl_by_position)."""
        return {a: g.drop(columns="arch") for a, g in self.frame.groupby("arch", sort=False)}

    def save(self, directory: str | Path) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.frame.to_parquet(out / "gaps.parquet", index=False)
        self.summary.to_parquet(out / "summary.parquet", index=False)
        (out / "meta.json").write_text(json.dumps({"task": self.task, "steps": self.steps}))
        return out

    @classmethod
    def load(cls, directory: str | Path) -> WindTunnelResult:
        src = Path(directory)
        meta = json.loads((src / "meta.json").read_text())
        return cls(
            meta["task"],
            meta["steps"],
            pd.read_parquet(src / "gaps.parquet"),
            pd.read_parquet(src / "summary.parquet"),
        )


def compare_architectures(
    task: object,
    task_name: str,
    archs: list[str],
    steps: int,
    out: Path,
    force: bool = False,
    n: int = 2000,
) -> WindTunnelResult:
    """Train each architecture for a fixed number of steps (not a time budget, so results do
    not depend on machine load; training resumes from checkpoints in out/<arch>) and score it
    on n fresh sequences against the exact posterior."""
    from bayesmatrix.windtunnel.evaluate import gap_frame, model_predictive, sequence_kl
    from bayesmatrix.windtunnel.train import train

    x = task.sample(n, seed=10_000)  # type: ignore[attr-defined]
    exact = task.predictive(x)  # type: ignore[attr-defined]
    frames, rows = [], []
    for arch in archs:
        model, log = train(task, arch, out / arch, minutes=120, max_steps=steps, force=force)
        pred = model_predictive(model, x, task.vocab)  # type: ignore[attr-defined]
        kl, lo, hi = bootstrap_mean_ci(sequence_kl(exact, pred))
        frames.append(gap_frame(exact, pred).assign(arch=arch))
        rows.append(
            {
                "arch": arch,
                "kl": kl,
                "kl_lo": lo,
                "kl_hi": hi,
                "params": log.params,
                "steps": log.steps,
                "seconds": log.seconds,
            }
        )
    return WindTunnelResult(task_name, steps, pd.concat(frames), pd.DataFrame(rows))
