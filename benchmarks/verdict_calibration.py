"""How often each verdict rule errs (report.calibration): every calibrated claim run on the
learners by construction over independent replicates (fresh demonstration seeds, fresh read
noise) at a profile's settings; prints the table of docs/guides/verdict-calibration.md and,
with --save, writes the rates the report cites (src/bayesmatrix/data/calibration.json: keyed
by rule, with the claim version they were measured at). Resumable: every run is saved under
--out and reused, so a killed study continues where it stopped.

`make calibration` runs the commands that regenerate the shipped rates
(docs/guides/verdict-calibration.md): the central ICL rule over 200 replicates with the
scaling law's bootstrap off (`--set bootstrap=0`: the rule reads profile-likelihood
intervals, no bootstrap, which tests/report/test_calibration.py checks; the bootstrap is 80%
of a replicate's time), then the coin-flip rules:

    .venv/bin/python benchmarks/verdict_calibration.py --claims icl --rules icl.updating \
        --set bootstrap=0 --replicates 200 --workers 2 --save
    .venv/bin/python benchmarks/verdict_calibration.py --claims coin-flips --replicates 200 \
        --workers 2 --save --out runs/calibration-coin
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bayesmatrix.report.calibration import (
    LEARNERS,
    calibration_runs,
    error_rates,
    markdown_table,
    save_rates,
)
from bayesmatrix.results.rates import rates_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["test", "quick", "full"])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--claims", default="", help="comma list (default: every calibrated)")
    parser.add_argument("--learners", default=",".join(LEARNERS))
    parser.add_argument("--rules", default="", help="comma list of rule ids (default: all)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a profile setting the measured rules do not read (repeatable)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/calibration"))
    parser.add_argument("--save", action="store_true", help="write data/calibration.json")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    start = time.perf_counter()
    done = [0]

    def progress(line: str) -> None:
        done[0] += 1
        if done[0] % 25 == 0:
            print(f"{done[0]} runs ({time.perf_counter() - start:.0f} s): {line}", flush=True)

    runs = calibration_runs(
        [c for c in args.claims.split(",") if c] or None,
        args.profile,
        args.replicates,
        args.out / args.profile,
        progress,
        args.learners.split(","),
        args.workers,
        overrides=overrides,
        rules=[r for r in args.rules.split(",") if r] or None,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out / f"{args.profile}.csv", index=False)
    rates = error_rates(runs)
    changed = "".join(f", {k}={v}" for k, v in overrides.items())
    print(f"\nprofile {args.profile}{changed}, {args.replicates} replicates per learner")
    print(markdown_table(rates))
    if args.save:
        saved = save_rates(rates, args.profile, args.replicates, rates_file(), overrides=overrides)
        print(f"saved {saved}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
