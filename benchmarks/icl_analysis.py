"""The ICL claim at a profile (quick by default): reading the model (its sweep of cells) against
analysing the readings (the nested learners, the curves and the scaling laws with their
bootstrap), timed side by side in one run on each model, on a fresh folder.

Claim (#34): at the quick profile the analysis takes no longer than reading the model.
Run: .venv/bin/python benchmarks/icl_analysis.py [--model smollm2-135m --model gemma3-270m]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

from bayesmatrix.claims import get_claim
from bayesmatrix.claims._icl import conditions, task_data
from bayesmatrix.experiments.icl.analysis import analyse
from bayesmatrix.experiments.icl.sweep import run_cell, run_sweep
from bayesmatrix.models.loading import Loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--profile", default="quick", choices=["test", "quick", "full"])
    args = parser.parse_args()
    settings = get_claim("icl").configure(args.profile)
    tasks, conds = task_data(settings), conditions(settings)
    seeds = range(settings["first_seed"], settings["first_seed"] + settings["seeds"])
    print(f"icl at the {args.profile} profile: {settings['seeds']} seeds x {len(conds)} "
          f"conditions x {settings['shots']} shots, bootstrap {settings['bootstrap']}")  # fmt: skip
    print("| model | read the model | analyse the readings | analysis / read |")
    print("| --- | ---: | ---: | ---: |")
    for model in args.model or ["smollm2-135m", "gemma3-270m"]:
        loader = Loader()
        loader.identity(model)  # the conversion, if any, before the clock starts
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            frame = run_sweep(
                [model], tasks, conds, seeds, Path(out), loader,
                cell=partial(run_cell, shots=settings["shots"]), kind="bench",
            )  # fmt: skip
            read = time.perf_counter() - start
            start = time.perf_counter()
            analyse(frame, settings["bootstrap"], 0)
            fit = time.perf_counter() - start
        print(f"| {model} | {read:.1f} s | {fit:.1f} s | {fit / read:.2f} |", flush=True)


if __name__ == "__main__":
    main()
