"""The claim protocol: every claim is found (not listed), declares itself whole, and holds to
one contract, tested here for each claim the registry lists (no hand-kept list): its examples
give verdicts both ways, its figures draw, its results save and read back with the same
verdicts, its schema refuses a damaged frame, and its reproducing command parses back to
the same settings."""

from __future__ import annotations

import dataclasses
import functools
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bayesmatrix.claims import Claim, Setting, get_claim, list_claims, register, run_claim
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results import store
from bayesmatrix.results.io import DamagedResultError
from bayesmatrix.results.records import record
from bayesmatrix.results.verdicts import Rule, Verdict

CLAIMS = [c.name for c in list_claims()]


@functools.cache
def examples(name: str) -> list:
    return get_claim(name).examples()


def test_every_claim_is_found_once_with_what_interfaces_need():
    claims = list_claims()
    names = [c.name for c in claims]
    assert len(names) == len(set(names)) >= 14
    for c in claims:
        assert c.title and c.description and c.rule and c.scope in ("model", "models", "none")
        assert "full" in c.profiles and c.version >= 1 and c.source.startswith("bayesmatrix.")
    assert names[:3] == ["rows", "prior", "icl"]  # report order: each claim's `order`
    with pytest.raises(BayesmatrixError, match="claims are rows, prior"):
        get_claim("nope")
    with pytest.raises(BayesmatrixError, match="has no setting"):
        get_claim("cot").configure("quick", problem="x")
    with pytest.raises(ValueError, match="registered twice"):
        register(dataclasses.replace(get_claim("cot"), source="elsewhere"))


@pytest.mark.parametrize("name", CLAIMS)
def test_examples_give_verdicts_both_ways(name):
    statuses = [v.status for r in examples(name) for v in r.verdicts()]
    assert "supported" in statuses and "not supported" in statuses, statuses


@pytest.mark.parametrize("name", CLAIMS)
def test_figures_draw_with_their_reproducing_command(name):
    claim = get_claim(name)
    settings = claim.profiles["full"]
    # a per-model claim draws all its models' results at once; the others one result each
    groups = [examples(name)] if claim.scope == "model" else [[r] for r in examples(name)]
    figures = [f for g in groups for f in claim.draw(g, ["m"], "full", settings)]
    assert all(
        isinstance(f.figure, Figure) and f.command.startswith("bayesmatrix run") for f in figures
    )
    assert name == "martingale" or figures  # the one-step check has no figure


@pytest.mark.parametrize("name", CLAIMS)
def test_results_save_and_read_back(name, tmp_path):
    claim = get_claim(name)
    for i, result in enumerate(examples(name)):
        where = result.save(tmp_path / str(i))
        again = claim.read(where)
        # compared as records: a missing number (NaN) is None there, equal to itself
        assert [record(v, name).to_json() for v in again.verdicts()] == [
            record(v, name).to_json() for v in result.verdicts()
        ]


@pytest.mark.parametrize("name", CLAIMS)
def test_the_schema_refuses_a_damaged_frame(name, tmp_path):
    claim = get_claim(name)
    result = examples(name)[0]
    if claim.name == "matrix":  # its frames are the comparison's, saved beside it
        result, claim_read = result.comparison, type(result.comparison).load
    else:
        claim_read = claim.read
    field, columns = next(iter(type(result).SCHEMA.items()))
    where = result.save(tmp_path / "r")
    path = where / f"{field}.parquet"
    pd.read_parquet(path).drop(columns=[next(iter(columns))]).to_parquet(path)
    with pytest.raises(DamagedResultError, match=f"column '{next(iter(columns))}' is missing"):
        claim_read(where)


@pytest.mark.parametrize("name", CLAIMS)
def test_the_reproducing_command_parses_back(name):
    claim = get_claim(name)
    for profile, base in claim.profiles.items():
        changed = dict(base)
        for key, setting in claim.settings.items():  # change every setting that can be
            value = base[key]
            if setting.kind == "int" and value is not None:
                changed[key] = (
                    int(value) + 1 if setting.max is None or value < setting.max else value - 1
                )
            elif setting.kind == "str" and setting.choices is None and value is not None:
                changed[key] = f"{value} and more"
        command = claim.reproduce(["smollm2-135m"], profile, changed)
        words = shlex.split(command)
        assert words[:3] == ["bayesmatrix", "run", name]
        parsed_profile = words[words.index("--profile") + 1] if "--profile" in words else "full"
        assignments = [words[i + 1] for i, w in enumerate(words) if w == "-s"]
        assert claim.parse(assignments, parsed_profile) == changed
        assert claim.reproduce(["smollm2-135m"], profile, base).count(" -s ") == 0


def test_rules_state_their_thresholds():
    r = Rule("the slope", above=0.5, refute_at=0.1)
    assert r.sentence() == (
        "supported when the 95% interval of the slope lies above 0.5, not supported when it "
        "lies below 0.1"
    )
    assert [r.status(0.6, 0.9), r.status(0.2, 0.7), r.status(0.0, 0.05)] == [
        "supported",
        "inconclusive",
        "not supported",
    ]
    band = Rule("x", within=0.25, centre="the reference")
    assert band.status(0.9, 1.1, centre=1.0) == "supported"
    assert band.status(1.3, 1.4, centre=1.0) == "not supported"
    assert band.status(0.9, 1.4, centre=1.0) == "inconclusive"
    assert band.status(float("nan"), 1.0, centre=1.0) is None


def test_settings_parse_and_refuse():
    s = Setting("n", "int", min=1, max=10)
    assert s.parse("n", "3") == 3
    for bad, phrase in (("x", "is not an int"), ("0", "out of range"), ("11", "out of range")):
        with pytest.raises(BayesmatrixError, match=phrase):
            s.parse("n", bad)
    words = Setting("w", "list[str]")
    assert words.parse("w", "a, b") == ["a", "b"] and words.format(["a", "b"]) == "a,b"
    with pytest.raises(BayesmatrixError, match="not a finite number"):
        Setting("t", "float").parse("t", "nan")
    assert Setting("f", "str", optional=True).parse("f", "none") is None
    with pytest.raises(BayesmatrixError, match="is given twice"):
        get_claim("icl").parse(["seeds=2", "seeds=3"])


@pytest.mark.parametrize(
    ("kind", "value", "phrase"),
    [
        ("int", True, "is a bool"),  # a bool is an int to Python, not to a setting
        ("int", 2.5, "is a float"),
        ("int", "8", "is a str"),
        ("float", float("nan"), "not a finite number"),
        ("float", float("inf"), "not a finite number"),
        ("float", False, "is a bool"),
        ("list[float]", 0.5, "is one value"),
        ("list[str]", "regular", "is one value"),
        ("list[str]", ["regular", "regular"], "twice"),
        ("list[float]", [0.2, 0.20], "twice"),
        ("list[int]", [], "at least one"),
        ("str", None, "needs a value"),
    ],
)
def test_python_values_are_checked_as_strictly_as_text(kind, value, phrase):
    with pytest.raises(BayesmatrixError, match=phrase):
        Setting("the setting", kind, min=0, max=10).check("key", value)


def test_python_values_that_fit_are_normalised():
    assert Setting("x", "float", max=10).check("x", 2) == 2.0
    assert Setting("x", "list[int]", max=10).check("x", (1, 2)) == [1, 2]
    assert Setting("x", "int", max=10).check("x", np.int64(3)) == 3
    with pytest.raises(ValueError, match="needs a max"):
        Setting("unbounded", "int")


def test_a_duplicate_from_text_is_refused_like_one_from_python():
    claim = get_claim("coin-flips")
    with pytest.raises(BayesmatrixError, match="twice"):
        claim.parse(["biases=0.2,0.2"], "test")
    with pytest.raises(BayesmatrixError, match="twice"):
        claim.configure("test", biases=[0.2, 0.2])


# ---- run_claim: one fingerprinted, resumable computation per (claim, model) -------------------
@dataclass
class Toy:
    value: float

    def verdicts(self) -> list[Verdict]:
        rule = Rule("the value", above=0)
        return [Verdict.from_rules("toy", f"{self.value}", [rule.status(self.value, self.value)])]

    def save(self, directory: str | Path) -> Path:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "value.txt").write_text(str(self.value))
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Toy:
        return cls(float((Path(directory) / "value.txt").read_text()))


def toy_claim(calls: list, version: int = 1) -> Claim:
    """A claim whose run doubles its setting x, counting its computations in `calls`."""

    def run(ctx, data: float) -> Toy:
        calls.append(1)
        return Toy(ctx.settings["x"] * data)

    return Claim(
        name="toy",
        title="t",
        description="d",
        rules=("r",),
        scope="none",
        settings={"x": Setting("x", "float")},
        profiles={"full": {"x": 1.0}},
        run=run,
        result=Toy,
        figures=lambda results, models, s: [],
        examples=lambda: [Toy(1.0), Toy(-1.0)],
        data=lambda s: 2.0,
        version=version,
    )


def test_run_claim_saves_under_a_fingerprint_and_reuses_only_the_same_inputs(tmp_path):
    calls: list = []
    toy = toy_claim(calls)
    first = run_claim(toy, [], {"x": 1.5}, tmp_path, load_model=None)
    again = run_claim(toy, [], {"x": 1.5}, tmp_path, load_model=None)
    assert [r.value for r in first + again] == [3.0, 3.0] and len(calls) == 1
    assert store.read_marker(tmp_path)["inputs"]["settings"] == {"x": 1.5}
    with pytest.raises(store.StaleResultError, match=r"settings\.x: 1\.5 -> -1\.0"):
        run_claim(toy, [], {"x": -1.0}, tmp_path, load_model=None)
    forced = run_claim(toy, [], {"x": -1.0}, tmp_path, load_model=None, force=True)
    assert forced[0].value == -2.0 and len(calls) == 2
    assert forced[0].verdicts()[0].status == "not supported"
    # a new version of the claim's computation is another input: refused, then recomputed
    with pytest.raises(store.StaleResultError, match="version: 1 -> 2"):
        run_claim(toy_claim(calls, version=2), [], {"x": -1.0}, tmp_path, load_model=None)


def test_claims_command_lists_the_registry(monkeypatch, capsys):
    from tests.reliability.conftest import run_main

    code, out, _ = run_main(["claims", "--profile", "test"], monkeypatch, capsys)
    assert code == 0
    for claim in list_claims():
        assert claim.name in out
    assert "E[p_n+m]" in out  # brackets in descriptions and rules are text, not markup
