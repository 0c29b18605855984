"""Every command, fed bad input, ends in one readable line on stderr and exit code 2: no
traceback, nothing half-written. The table is data: (command line, phrase in the message)."""

from __future__ import annotations

from pathlib import Path

import pytest

BAD_INPUTS: list[tuple[list[str], str]] = [
    # the front door
    (["nope"], "No such command"),
    (["claims", "--profile", "huge"], "choose from test, quick, full"),
    (["trace"], "Missing argument"),
    (["icl", "--shots", "many"], "--shots 'many' is not an int"),
    # trace / demo
    (["trace", "no-such-model", "hi"], "named models are"),
    (["trace", "smollm2-135m", ""], "prompt is empty"),
    (["trace", "smollm2-135m"], "exactly one"),
    (["trace", "smollm2-135m", "hi", "--top-k", "0"], "--top-k"),
    (["trace", "smollm2-135m", "--file", "{dir}"], "is a directory"),
    (["trace", "smollm2-135m", "--file", "{missing}"], "not found"),
    (["trace", "smollm2-135m", "hi", "--out", "{file}"], "is a file"),
    (["trace", "smollm2-135m", "hi", "--plot", "x.xyz"], "must end in"),
    (["trace", "smollm2-135m", "hi", "--plot", "{dir}"], "must end in"),
    (["trace", "smollm2-135m", "--file", "{long}"], "--truncate-left"),
    (["trace", "{model}", "hi"], "corrupt"),
    (["trace", "{dir}", "hi"], "without config.json"),
    (["trace", "smollm2-135m", "hi", "--device", "cuda"], "no usable CUDA GPU"),
    (["trace", "smollm2-135m", "hi", "--device", "cuda:7"], "no usable CUDA GPU"),
    (["trace", "smollm2-135m", "hi", "--device", "tpu"], "unknown device"),
    (["trace", "smollm2-135m", "hi", "--dtype", "float8"], "unknown dtype"),
    (["validate", "--dtype", "int4"], "unknown dtype"),
    (["icl", "--device", "quantum"], "unknown device"),
    (["demo", "--out", "{file}"], "is a file"),
    # in-context learning
    (["icl", "--tasks", "{dir}"], "is a directory"),
    (["icl", "--tasks", "{braces}"], "may only use the fields"),
    (["icl", "--tasks", "nope"], "unknown task"),
    (["icl", "--seeds", "0"], "--seeds"),
    (["icl", "--bootstrap", "-1"], "--bootstrap"),
    (["icl", "--conditions", "upside"], "unknown condition"),
    (["icl", "--conditions", ","], "needs at least one value"),
    (["icl", "--conditions", "sul", "--sul-words", "wug"], "only 1 unrelated"),
    (["icl", "--shots", "0", "--seeds", "1", "--out", "{out}/icl0"], "--shots 0 is out of range"),
    (["icl", "--shots", "500", "--seeds", "1", "--out", "{out}/icl1"], "at most"),
    (["icl", "--out", "{file}"], "is a file"),
    (["icl", "--model", "nope"], "named models are"),
    # executors
    (["icl", "--executor", "dask"], "unknown executor"),
    (["icl", "--ray-address", "auto"], "needs --executor ray"),
    (["validate", "--claims", "nope"], "no claim(s)"),
    (["validate", "--claims", ","], "no claim(s)"),
    (["windtunnel", "run", "--seeds", "0"], "--seeds"),
    (
        ["matrix", "build", "{corpus}", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
        "cannot reach Ray at 127.0.0.1:1",
    ),
    (["icl", "--executor", "ray", "--ray-address", "nohost"], "is not host:port"),
    # embeddings, entropy and confidence
    (["continuity", "--prompts", "0", "--out", "{out}/c0"], "--prompts 0 is out of range"),
    (["continuity", "--k", "0", "--out", "{out}/c1"], "--k 0 is out of range"),
    (["continuity", "--layer", "x"], "--layer 'x' is not an int"),
    (["continuity", "--layer", "99", "--out", "{out}/c2"], "out of range"),
    (["continuity", "--out", "{file}"], "is a file"),
    (["entropy", "--facts", "{dir}"], "is a directory"),
    (["entropy", "--n", "1"], "--n 1 is out of range"),
    (["entropy", "--task", "nope"], "unknown task"),
    (["cot", "--problems", "{dir}"], "is a directory"),
    (["cot", "--problems", "{file}"], "not valid JSON"),
    (["cot", "--problems", "{missing}"], "not found"),
    (["hallucination", "--facts", "{missing}"], "not found"),
    (["hallucination", "--facts", "{braces}"], "missing or empty"),
    # Theorem 2
    (["prior", "approx", "--V", "1000000000"], "of memory"),
    (["prior", "approx", "--source", "gaussian"], "unknown --source"),
    (["prior", "approx", "--k-max", "0"], "--k-max"),
    (["prior", "approx", "--n", "5"], "--n >= 30"),
    (["prior", "approx", "--out", "{file}"], "is a file"),
    # the ideal matrix
    (["matrix", "build", "{corpus}", "--out", "{user}", "--force"], "not an index built by"),
    (["matrix", "build", "{corpus}", "--out", "{index}"], "--force"),
    (["matrix", "build", "{empty_corpus}", "--out", "{out}/m0"], "no tokens"),
    (["matrix", "build", "{missing}", "--out", "{out}/m1"], "not found"),
    (["matrix", "build", "{corpus}", "--shard-tokens", "1", "--out", "{out}/m2"], "at least 2"),
    (["matrix", "build", "{corpus}", "--tokenizer", "nope", "--out", "{out}/m3"], "named models"),
    (["matrix", "row", "{index}", "x", "--top", "0"], "--top"),
    (["matrix", "row", "{index}", "x", "--top", "-3"], "--top"),
    (["matrix", "row", "{index}", "x", "--prior", "zz"], "unknown prior"),
    (["matrix", "row", "{dir}", "x"], "not a bayesmatrix index"),
    (["matrix", "row", "{file}", "x"], "not a bayesmatrix index"),
    (["matrix", "row", "{random_sa}", "x"], "checksum"),
    (["matrix", "row", "{random_tokens}", "x"], "checksum"),
    (["matrix", "row", "{empty_prior}", "x"], "prior.json is corrupt"),
    (["matrix", "sample", "{index}", "x", "-n", "100000000"], "1..1,000,000"),
    (["matrix", "sample", "{index}", "x", "-n", "0"], "1..1,000,000"),
    (["matrix", "sample", "{index}", "x", "--seed", "-1"], "--seed"),
    (["matrix", "compare", "{index}", "smollm2-135m", "{dir}"], "is a directory"),
    (["matrix", "compare", "{index}", "smollm2-135m", "{held}", "--out", "{file}"], "is a file"),
    (["matrix", "compare", "{index}", "smollm2-135m", "{held}", "--window", "1"], "at least 2"),
    (["matrix", "compare", "{dir}", "smollm2-135m", "{held}"], "not a bayesmatrix index"),
    # wind tunnels
    (["windtunnel", "run", "--V", "10000000", "--arch", "mlp", "--steps", "5"], "of memory"),
    (["windtunnel", "run", "--arch", "cnn"], "unknown architecture"),
    (["windtunnel", "run", "--task", "hmmm"], "unknown wind-tunnel task"),
    (["windtunnel", "run", "--out", "{file}"], "is a file"),
    (["windtunnel", "run", "--minutes", "0"], "must be positive"),
    (["windtunnel", "run", "--task", "bijection-peer", "--V", "4", "--pairs", "9"], "1..4"),
    (["windtunnel", "geometry", "--out", "{dir}"], "no trained transformer"),
    (["windtunnel", "geometry", "--n", "1"], "--n must be at least 3"),
    (["windtunnel", "geometry", "--task", "hmmm"], "unknown wind-tunnel task"),
    # output folders that are not ours (issue #23): a user's files are never written over
    (["demo", "--out", "{user}"], "did not write"),
    (["icl", "--out", "{user}"], "did not write"),
    (["validate", "--out", "{user}"], "did not write"),
    (["trace", "smollm2-135m", "hi", "--out", "{user}"], "did not write"),
    (["entropy", "--out", "{user}"], "did not write"),
    (["prior", "approx", "--out", "{user}"], "did not write"),
    (["windtunnel", "run", "--out", "{user}"], "did not write"),
    (
        ["matrix", "compare", "{index}", "smollm2-135m", "{held}", "--out", "{user}"],
        "did not write",
    ),
    # inputs given twice would be counted twice
    (["icl", "--conditions", "regular,regular"], "given twice"),
    (["icl", "--conditions", "flipped,flipped:1"], "given twice"),
    (["icl", "--tasks", "sentiment,sentiment"], "twice"),
    (["icl", "--model", "smollm2-135m", "--model", "smollm2-135m"], "given twice"),
    (["validate", "--claims", "rows,rows"], "given twice"),
    (["atlas", "learner:bayesian"], "at least two"),
    (["atlas", "learner:bayesian", "learner:bayesian"], "given twice"),
    (["atlas", "learner:bayesian", "learner:recency", "--profile", "huge"], "unknown profile"),
    (["atlas", "learner:bayesian", "learner:recency", "--claims", "nope"], "no claim(s)"),
    (["atlas", "learner:bayesian", "learner:recency", "-s", "icl.shots=0"], "out of range"),
    (["atlas", "learner:bayesian", "learner:recency", "--out", "{user}"], "did not write"),
    (["compare", "{user}", "{user}"], "no verdicts.json"),
    (["validate", "--model", "smollm2-135m", "--model", "smollm2-135m"], "given twice"),
    (["cot", "--model", "smollm2-135m", "--model", "smollm2-135m"], "given twice"),
    (["windtunnel", "run", "--arch", "mlp,mlp"], "given twice"),
    (["matrix", "build", "{corpus}/part0.txt", "{corpus}/part0.txt", "--out", "{out}/m4"], "twice"),
    (["matrix", "build", "{corpus}", "{corpus}/part1.txt", "--out", "{out}/m5"], "given twice"),
    # malformed options never become a verdict
    (["windtunnel", "run", "--minutes", "nan"], "not a finite number"),
    (["windtunnel", "run", "--minutes", "inf"], "not a finite number"),
    (["windtunnel", "run", "--alpha", "nan"], "not a finite number"),
    (["windtunnel", "run", "--alpha", "0"], "--alpha must be positive"),
    (["windtunnel", "run", "--task", "hmm", "--states", "0"], "--states must be at least 2"),
    (["windtunnel", "run", "--task", "hmm-incontext", "--states", "1"], "at least 2"),
    (["prior", "approx", "--k-max", "1"], "--k-max >= 2"),
    (["prior", "approx", "--seed", "-1"], "--seed"),
    (["icl", "--tasks", "{attr_template}"], "as they are"),
    (
        ["windtunnel", "geometry", "--model", "{wt_model}", "--task", "dirichlet", "--V", "5"],
        "other settings",
    ),
    (
        ["windtunnel", "geometry", "--model", "{wt_model}", "--task", "markov", "--V", "4"],
        "other settings",
    ),
    # bounded work, environmental failures
    (["icl", "--bootstrap", "1000000000"], "out of range (0..10000)"),
    (["windtunnel", "geometry", "--bootstrap", "100000"], "between 0 and 10,000"),
    (["icl", "--tasks", "{deep_json}"], "nested deeper"),
    (["icl", "--tasks", "{many_labels}"], "at most 50"),
    # any claim: `run` and `-s` (issue #24)
    (["run", "nope"], "unknown claim"),
    (["run", "icl", "--profile", "huge"], "has no profile"),
    (["run", "icl", "-s", "nope=1"], "has no setting"),
    (["run", "icl", "-s", "seeds"], "write key=value"),
    (["run", "icl", "-s", "seeds=x"], "is not an int"),
    (["run", "icl", "-s", "seeds=0"], "out of range"),
    (["run", "icl", "-s", "seeds=2", "-s", "seeds=3"], "given twice"),
    (["run", "martingale-paths", "-s", "thetas=0.2,2"], "out of range"),
    (["run", "windtunnel", "-s", "archs=cnn"], "is not one of"),
    (["run", "semantic-entropy", "-s", "temperature=nan"], "not a finite number"),
    (["run", "icl", "--out", "{user}"], "did not write"),
    (["validate", "-s", "icl.nope=1"], "has no setting"),
    (["validate", "-s", "nope.x=1"], "claim 'nope' is not among"),
    (["validate", "--claims", "icl", "-s", "prior.k_max=3"], "not among this run's claims"),
    (["validate", "-s", "icl.seeds=-1"], "out of range"),
    (["validate", "-s", "seeds=3"], "write claim.key=value"),
    # every claim's own command: its settings as options, checked by the claim
    (["rows", "--profile", "huge"], "has no profile"),
    (["martingale", "--seeds", "0"], "--seeds 0 is out of range"),
    (["martingale-paths", "--paths", "1"], "--paths 1 is out of range"),
    (["coin-flips", "--biases", "0.2,0.2"], "twice"),
    (["icl-order", "--orderings", "1"], "--orderings 1 is out of range"),
    (["semantic-entropy", "--samples", "1"], "--samples 1 is out of range"),
    (["geometry", "--per-k", "2"], "--per-k 2 is out of range"),
    (["icl", "--profile", "huge"], "has no profile"),
    # the main job and the explorer
    (["validate", "--profile", "huge"], "choose from"),
    (["validate", "--model", "nope"], "named models are"),
    (["validate", "--out", "{file}"], "is a file"),
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--port", "-1"], "--port"),
    (["serve", "--allow-dir", "{file}"], "not a directory"),
    (["serve", "--port", "{busy_port}"], "cannot listen"),
]


@pytest.mark.parametrize(
    ("args", "phrase"), BAD_INPUTS, ids=[" ".join(a)[:60] for a, _ in BAD_INPUTS]
)
def test_bad_input_is_one_line_and_exit_2(cli, places, args, phrase):
    before = {p: p.stat().st_mtime_ns for p in Path(places["user"]).rglob("*")}
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert phrase in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "Traceback" not in out
    # nothing of the user's was touched
    assert {p: p.stat().st_mtime_ns for p in Path(places["user"]).rglob("*")} == before


def test_every_command_is_covered():
    """Each command of `bayesmatrix --help` has at least one bad input in the table."""
    from typer.main import get_command

    from bayesmatrix.cli import app

    root = get_command(app)
    commands = set()
    for name in root.list_commands(None):  # type: ignore[attr-defined]
        sub = getattr(root.get_command(None, name), "commands", None)  # type: ignore[attr-defined]
        commands |= {f"{name} {s}" for s in sub} if sub else {name}
    covered = {" ".join(a[:2]) if " ".join(a[:2]) in commands else a[0] for a, _ in BAD_INPUTS}
    missing = commands - covered - {"models"}  # `models` takes no input
    assert not missing, f"commands without a bad-input case: {sorted(missing)}"


def test_ray_missing_names_the_extra(cli, monkeypatch):
    """Without Ray installed, --executor ray says which extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code, _, err = cli("windtunnel", "run", "--executor", "ray", "--steps", "1")
    assert code == 2 and "bayesmatrix[ray]" in err and len(err.strip().splitlines()) == 1
