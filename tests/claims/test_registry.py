"""The claim protocol: every claim is registered once with what the interfaces need; run_claim
saves under a fingerprint and reuses only for the same inputs; the CLI lists the registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmatrix.claims import Claim, get_claim, list_claims, register, run_claim
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.experiments.continuity import ContinuityResult
from bayesmatrix.experiments.entropy import EntropyResult
from bayesmatrix.results import store
from bayesmatrix.results.verdicts import Verdict, rule


def test_every_claim_is_registered_once_with_what_interfaces_need():
    claims = list_claims()
    names = [c.name for c in claims]
    assert len(names) == len(set(names)) >= 10
    for c in claims:
        assert c.title and c.description and c.rule and c.scope in ("model", "models", "none")
        assert "full" in c.profiles
        # the ICL audit's martingale checks, order effects and semantic entropy (sampling)
        # run in the full profile only
        full_only = ("martingale", "martingale-paths", "icl-order", "semantic-entropy", "geometry")
        if c.name not in full_only:
            assert {"test", "quick"} <= set(c.profiles)
        # settings of every profile name the same keys: profiles differ in values only
        assert len({tuple(sorted(p)) for p in c.profiles.values()}) == 1
    assert names[:3] == ["rows", "prior", "icl"]  # report order
    with pytest.raises(BayesmatrixError, match="claims are rows, prior"):
        get_claim("nope")
    with pytest.raises(BayesmatrixError, match="has no settings"):
        get_claim("cot").settings("quick", problem="x")
    with pytest.raises(ValueError, match="registered twice"):
        register(Claim(**{**get_claim("cot").__dict__}))


@dataclass
class Toy:
    value: float

    def verdicts(self) -> list[Verdict]:
        return [Verdict.from_rules("toy", f"{self.value}", [rule(self.value, self.value, above=0)])]

    def save(self, directory: str | Path) -> Path:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "value.txt").write_text(str(self.value))
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Toy:
        return cls(float((Path(directory) / "value.txt").read_text()))


def toy_claim(calls: list) -> Claim:
    """A claim whose run doubles its setting x, counting its computations in `calls`."""

    def run(ctx, data: float) -> Toy:
        calls.append(1)
        return Toy(ctx.settings["x"] * data)

    return Claim(
        name="toy",
        title="t",
        description="d",
        rule="r",
        scope="none",
        profiles={"full": {"x": 1.0}},
        run=run,
        load=Toy.load,
        figures=lambda results, models, s: [],
        data=lambda s: 2.0,
    )


def test_run_claim_saves_under_a_fingerprint_and_reuses_only_the_same_inputs(tmp_path):
    calls: list = []
    toy = toy_claim(calls)
    first = run_claim(toy, [], {"x": 1.5}, tmp_path, load=None)
    again = run_claim(toy, [], {"x": 1.5}, tmp_path, load=None)
    assert [r.value for r in first + again] == [3.0, 3.0] and len(calls) == 1
    assert store.read_marker(tmp_path)["inputs"]["settings"] == {"x": 1.5}
    with pytest.raises(store.StaleResultError, match=r"settings\.x: 1\.5 -> -1\.0"):
        run_claim(toy, [], {"x": -1.0}, tmp_path, load=None)
    forced = run_claim(toy, [], {"x": -1.0}, tmp_path, load=None, force=True)
    assert forced[0].value == -2.0 and len(calls) == 2
    assert forced[0].verdicts()[0].status == "not supported"


def test_claims_command_lists_the_registry(tmp_path, monkeypatch, capsys):
    from tests.reliability.conftest import run_main

    code, out, _ = run_main(["claims", "--profile", "test"], monkeypatch, capsys)
    assert code == 0
    for claim in list_claims():
        assert claim.name in out
    assert "E[p_n+m]" in out  # brackets in descriptions and rules are text, not markup


# ---- verdicts of claims that had no unit tests: both ways, on constructed results -------
def _entropy(delta: float, falls: bool) -> EntropyResult:
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "source": "context",
            "delta_bits": delta + 0.05 * rng.standard_normal(n),
            "falls": falls,
            "majorizes": falls,
        }
    )
    return EntropyResult("m", frame)


@pytest.mark.parametrize(
    ("delta", "falls", "expected"),
    [(-0.5, True, "supported"), (0.5, False, "not supported"), (0.0, True, "inconclusive")],
)
def test_entropy_verdict_goes_every_way(delta, falls, expected):
    (v,) = _entropy(delta, falls).verdicts()
    assert v.status == expected, v


def _continuity(slope: float, gap: float, gain: float) -> ContinuityResult:
    rng = np.random.default_rng(1)
    eps = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    rows = [
        {"prompt": p, "direction": d, "eps": e, "tv": e**slope * (1 + 0.01 * rng.random()),
         "delta_norm": e}
        for p in range(6) for d in range(2) for e in eps
    ]  # fmt: skip
    interpolation = pd.DataFrame({"lambda": 0.5, "relative": gap + 0.01 * rng.standard_normal(12)})
    neighbours = pd.DataFrame(
        {
            "kl_knn": 1.0 - gain + 0.01 * rng.standard_normal(12),
            "kl_random_k": np.ones(12),
            "kl_unigram": np.full(12, 2.0),
        }
    )
    return ContinuityResult("m", -1, pd.DataFrame(rows), interpolation, neighbours)


def test_continuity_verdicts_go_both_ways():
    good = [v.status for v in _continuity(1.0, 0.02, 0.3).verdicts()]
    bad = [v.status for v in _continuity(0.01, 0.5, -0.3).verdicts()]
    assert good == ["supported"] * 3
    assert bad == ["not supported"] * 3
