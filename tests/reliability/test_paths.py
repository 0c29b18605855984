"""Names that come from files never become paths outside `--out` (issue #23): a task file's
`name` of `../../../../x` or an absolute path used to make `icl` write its cells and figure
wherever it pointed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesmatrix.claims import get_claim, run_claim
from bayesmatrix.models.loading import Preloaded
from bayesmatrix.results.outdir import safe_name
from tests.cli_helpers import run_cli

SEGMENTS = ["..", ".", "", "x", "étude", "a:b", "~", "*", "%2e%2e", "con", "a b", "\\..", "-"]


@st.composite
def path_like(draw: st.DrawFn, root: str = "{root}") -> str:
    """Names that look like paths: climbs, separators of both kinds, absolute prefixes."""
    parts = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=10))
    sep = draw(st.sampled_from(["/", "\\", "/./"]))
    name = sep.join(parts)
    prefix = draw(st.sampled_from(["", "/", f"{root}/", "../" * 3]))
    return prefix + name


def write_task(path: Path, name: str) -> Path:
    header = {"name": name, "labels": {"pos": "yes", "neg": "no"}}
    rows = [{"input": f"text {i}", "label": "pos" if i % 2 else "neg"} for i in range(6)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_no_task_name_writes_outside_out(tiny, data):
    """Property: for task names drawn from path-like strings, the ICL claim (cells, analysis,
    figures written as the CLI writes them) creates files only under --out."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        name = data.draw(path_like(str(root)))
        task = write_task(root / "tasks" / "t.jsonl", name)
        out = root.joinpath(*[f"d{i}" for i in range(12)], "out")
        before = files_under(root)
        claim = get_claim("icl")
        chosen = claim.configure(
            "test", tasks=[str(task)], conditions=["regular"], shots=2, seeds=1, bootstrap=0
        )
        results = run_claim(claim, ["tiny"], chosen, out, Preloaded({"tiny": tiny}))
        for figure in claim.draw(results, ["tiny"], "test", chosen):
            figure.figure.savefig(out / f"{figure.stem}.png")
        created = files_under(root) - before
        assert created and all(p.is_relative_to(out) for p in created), sorted(created)


def test_safe_name_is_one_component_and_keeps_plain_names():
    for name in ["sentiment", "smollm2-135m", "flipped-0.5", "a_b+c=d"]:
        assert safe_name(name) == name
    for name in ["..", ".", "../x", "/etc/passwd", "a/b", "a\\b", "", "x" * 300, "\x00", "é"]:
        safe = safe_name(name)
        assert "/" not in safe and "\\" not in safe and safe not in (".", "..", "")
        assert not safe.startswith(".") and len(safe) <= 80
    assert safe_name("a/b") != safe_name("a_b") != safe_name("a:b")  # no two names share


def test_icl_cli_with_a_climbing_and_an_absolute_task_name(tmp_path):
    """The CLI end to end on the real model: nothing outside --out, exit 0."""
    for i, name in enumerate(["../../../../x", str(tmp_path / "abs" / "y")]):
        task = write_task(tmp_path / f"task{i}.jsonl", name)
        out = tmp_path / "runs" / f"out{i}"
        before = files_under(tmp_path)
        done = run_cli(
            "icl", "--tasks", str(task), "--conditions", "regular", "--shots", "2", "--seeds",
            "1", "--bootstrap", "0", "--out", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        created = files_under(tmp_path) - before
        assert any(p.suffix == ".png" for p in created)
        assert all(p.is_relative_to(out) for p in created), sorted(created)
