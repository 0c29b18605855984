"""How much of the next-token mass the label words carry before any demonstration (k = 0),
per shipped task, embedded model and prompt format: the table of docs/guides/icl-formats.md.

The instructed format names the label words in a line before the demonstrations and uses the
task's own template; the plain one is bayesmatrix 0.3.0's "Input: ...\\nOutput: ..." without
an instruction. Where the mass is tiny, the zero-shot "prior" renormalised over the label
words is the prompt's artefact. Every input of each task is one prompt.
Run: .venv/bin/python benchmarks/label_mass.py
"""

from __future__ import annotations

import time

from bayesmatrix.experiments.icl.sweep import zero_shot_mass
from bayesmatrix.experiments.icl.tasks import FORMATS, builtin_tasks, get_task
from bayesmatrix.models.loading import load

MODELS = ("smollm2-135m", "gemma3-270m")
TARGET = 0.05


def main() -> None:
    start = time.perf_counter()
    print(f"| task | format | {' | '.join(MODELS)} |")
    print(f"|---|---|{'---:|' * len(MODELS)}")
    lms = [load(m) for m in MODELS]
    short = []
    for name in builtin_tasks():
        for fmt in FORMATS:
            task = get_task(name).formatted(fmt)
            cells = []
            for lm in lms:
                mass = zero_shot_mass(lm, task)
                cells.append(f"{mass.mean():.1%} (min {mass.min():.1%})")
                if fmt == "instructed" and mass.mean() < TARGET:
                    short.append(f"{name} on {lm.name}: {mass.mean():.1%}")
            print(f"| {name} | {fmt} | {' | '.join(cells)} |")
    print(f"\ninstructed tasks below the {TARGET:.0%} target: {', '.join(short) or 'none'}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
