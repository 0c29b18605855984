"""Wall time of every registered claim per profile on the default model, each run alone in a
fresh output folder (the model already converted and loaded once, so each time is the claim's
own work): the figures `bayesmatrix validate` and the first progress line quote
(data/claim_times.json; docs/benchmarks.md).

    python benchmarks/claim_times.py                   # test and quick, print the table
    python benchmarks/claim_times.py --profiles full   # one profile (full takes hours)
    python benchmarks/claim_times.py --save            # also write data/claim_times.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from bayesmatrix.claims import list_claims, run_claim
from bayesmatrix.claims.claim import PROFILE_NAMES
from bayesmatrix.models.loading import Preloaded, load
from bayesmatrix.models.registry import DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="test,quick")
    parser.add_argument("--claims", default="")
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()
    profiles = [p for p in args.profiles.split(",") if p]
    wanted = set(filter(None, args.claims.split(",")))
    assert set(profiles) <= set(PROFILE_NAMES), profiles
    started = time.perf_counter()
    lm = load(DEFAULT_MODEL)
    print(f"model loaded in {time.perf_counter() - started:.1f} s ({platform.processor() or '?'})")
    loader = Preloaded({DEFAULT_MODEL: lm})
    times: dict[str, dict[str, float]] = {}
    for claim in list_claims():
        if wanted and claim.name not in wanted:
            continue
        for profile in profiles:
            settings = claim.configure(profile)
            with tempfile.TemporaryDirectory() as folder:
                began = time.perf_counter()
                run_claim(claim, [DEFAULT_MODEL], settings, Path(folder) / "r", loader)
                took = time.perf_counter() - began
            times.setdefault(claim.name, {})[profile] = round(took, 1)
            print(f"{claim.name:18s} {profile:6s} {took:8.1f} s", flush=True)
    for profile in profiles:
        total = sum(t.get(profile, 0.0) for t in times.values())
        print(f"{'all claims':18s} {profile:6s} {total:8.1f} s ({total / 60:.1f} min)")
    if args.save:
        path = Path(__file__).parents[1] / "src" / "bayesmatrix" / "data" / "claim_times.json"
        kept = json.loads(path.read_text()) if path.is_file() else {"seconds": {}}
        for name, by_profile in times.items():
            kept["seconds"].setdefault(name, {}).update(by_profile)
        kept["model"] = DEFAULT_MODEL
        kept["machine"] = "2 CPU cores, no GPU (the project's CI machine)"
        path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
