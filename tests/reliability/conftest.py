"""Places a careless or hostile user points the CLI at: files where folders are expected,
folders of theirs, damaged indexes and models, files that are too long or malformed."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bayesmatrix.cli import main
from bayesmatrix.data import stdlib_docs


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str, str]:
    """The console entry point in-process (as `bayesmatrix ARGS`): exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["bayesmatrix", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), captured.out, captured.err


@pytest.fixture(scope="session")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from bayesmatrix.matrix import build
    from bayesmatrix.models.reference import converted_folder

    root = tmp_path_factory.mktemp("places")
    (root / "dir").mkdir()
    (root / "file.txt").write_text("a plain file\n")
    user = root / "thesis"
    (user / "sub").mkdir(parents=True)
    (user / "thesis.txt").write_text("years of work")
    corpus = root / "corpus"
    corpus.mkdir()
    text = stdlib_docs(max_chars=30_000)
    for i in range(3):
        (corpus / f"part{i}.txt").write_text(text[i * 10_000 : (i + 1) * 10_000])
    (root / "held.txt").write_text(stdlib_docs(max_chars=40_000)[-3000:])
    (root / "held2.txt").write_text(stdlib_docs(max_chars=50_000)[-3000:])
    index = root / "index"
    build([corpus], "smollm2-135m", index)
    damaged = {}
    for name, harm in {
        "random_sa": "sa-00000.bin",
        "random_tokens": "tokens.bin",
        "empty_prior": "prior.json",
    }.items():
        copy = root / name
        shutil.copytree(index, copy)
        target = copy / harm
        if harm.endswith(".json"):
            target.write_text("")
        else:
            size = target.stat().st_size
            target.write_bytes(np.random.default_rng(0).bytes(size))
        damaged[name] = str(copy)
    (root / "empty").mkdir()
    (root / "empty" / "blank.txt").write_text("")
    task = {"name": "t", "template": "Input: {input} {foo}\nOutput: {label}",
            "labels": {"a": "yes", "b": "no"}}  # fmt: skip
    (root / "braces.jsonl").write_text(
        json.dumps(task) + "\n" + json.dumps({"input": "x", "label": "a"}) + "\n"
    )
    (root / "long.txt").write_text("word " * 100_000)
    good = {"name": "t", "labels": {"a": "yes", "b": "no"}}
    examples = [json.dumps({"input": f"x{i}", "label": "ab"[i % 2]}) for i in range(4)]
    attr = {**good, "template": "Input: {input.__class__}\nOutput: {label}"}
    (root / "attr.jsonl").write_text("\n".join([json.dumps(attr), *examples]) + "\n")
    (root / "deep.jsonl").write_text(json.dumps(good) + "\n" + "[" * 5000 + "]" * 5000 + "\n")
    many = {"name": "t", "labels": {f"l{i}": f"w{i}" for i in range(2000)}}
    (root / "labels.jsonl").write_text("\n".join([json.dumps(many), *examples]) + "\n")
    wind = root / "wind"
    code, _, err = run_cli_quiet(
        ["windtunnel", "run", "--task", "dirichlet", "--V", "4", "--length", "8", "--arch",
         "transformer", "--steps", "2", "--out", str(wind)]
    )  # fmt: skip
    assert code == 0, err
    model = root / "broken_model"
    shutil.copytree(converted_folder("smollm2-135m"), model)
    (model / "model.safetensors").write_bytes(b"\x00" * 1000)
    busy = socket.create_server(("127.0.0.1", 0))
    yield {
        "dir": str(root / "dir"),
        "file": str(root / "file.txt"),
        "user": str(user),
        "corpus": str(corpus),
        "held": str(root / "held.txt"),
        "held2": str(root / "held2.txt"),
        "index": str(index),
        "empty_corpus": str(root / "empty"),
        "braces": str(root / "braces.jsonl"),
        "long": str(root / "long.txt"),
        "model": str(model),
        "missing": str(root / "missing.txt"),
        "busy_port": str(busy.getsockname()[1]),
        "out": str(root / "out"),
        "attr_template": str(root / "attr.jsonl"),
        "deep_json": str(root / "deep.jsonl"),
        "many_labels": str(root / "labels.jsonl"),
        "wt_model": str(wind / "dirichlet" / "transformer" / "model"),
        **damaged,
    }
    busy.close()


def run_cli_quiet(args: list[str]) -> tuple[int, str, str]:
    """The CLI in a subprocess (for set-up work that must not share this process's state)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", *args], capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


def fill(args: list[str], places: dict[str, str]) -> list[str]:
    """Replace {name} placeholders in arguments by the prepared places."""
    return [a.format(**places) if "{" in a else a for a in args]


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch, capsys, places, tmp_path):
    """Run `bayesmatrix ARGS` in-process from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return lambda *args: run_main(fill(list(args), places), monkeypatch, capsys)


__all__ = ["Path", "fill", "run_main"]
