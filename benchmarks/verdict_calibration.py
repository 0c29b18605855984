"""How often the ICL-family verdict rules err: each claim run on the three learners by
construction (learner:bayesian, learner:recency, learner:ignorer) over replicates on fresh
seeds, at a profile's settings; prints the table of docs/guides/verdict-calibration.md and
saves the runs (resumable: a killed study continues where it stopped).

Run: .venv/bin/python benchmarks/verdict_calibration.py --profile test --replicates 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bayesmatrix.report.calibration import (
    CLAIMS,
    calibration_runs,
    error_rates,
    markdown_table,
    rates_file,
    save_rates,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="test", choices=["test", "quick", "full"])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--claims", default=",".join(CLAIMS))
    parser.add_argument("--out", type=Path, default=Path("runs/calibration"))
    parser.add_argument(
        "--save",
        action="store_true",
        help="write the rates the report cites (data/calibration.json)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    runs = calibration_runs(
        args.claims.split(","),
        args.profile,
        args.replicates,
        args.out / args.profile,
        progress=lambda line: print(line, flush=True),
    )
    runs.to_csv(args.out / f"{args.profile}.csv", index=False)
    print(f"\nprofile {args.profile}, {args.replicates} replicates per learner")
    rates = error_rates(runs)
    print(markdown_table(rates))
    if args.save:
        print(f"saved {save_rates(rates, args.profile, args.replicates, rates_file())}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
