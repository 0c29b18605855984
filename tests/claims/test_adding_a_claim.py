"""Adding a claim touches no existing file (issue #24): the guide's two files, taken from the
guide itself (docs/guides/adding-a-claim.md), are dropped into a copy of the package, and
installed as a package of their own through the `bayesmatrix.claims` entry point; either way
the claim runs through `claims`, `run` and `validate`, and the contract test covers it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bayesmatrix

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "guides" / "adding-a-claim.md"


def guide_files() -> dict[str, str]:
    """The guide's Python code blocks, by the path their first line names."""
    blocks = re.findall(
        r"```python\n# (src/bayesmatrix/\S+\.py)\n(.*?)```", GUIDE.read_text(), re.S
    )
    return {path: code for path, code in blocks}


def cli(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "bayesmatrix.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd,
    )  # fmt: skip


def runs_through_every_interface(site: Path, tmp: Path) -> None:
    listed = cli("claims", path=site, cwd=tmp)
    assert listed.returncode == 0 and "repetition" in listed.stdout, listed.stderr
    ran = cli(
        "run", "repetition", "--profile", "test", "--out", str(tmp / "run"), path=site, cwd=tmp
    )
    assert ran.returncode == 0, ran.stderr
    assert "concentrates the rows of smollm2-135m" in ran.stdout
    assert "reproduce: bayesmatrix run repetition --model smollm2-135m --profile test" in ran.stdout
    assert (tmp / "run" / "smollm2-135m" / "frame.parquet").is_file()
    report = cli(
        "validate", "--profile", "test", "--claims", "repetition", "--out", str(tmp / "v"),
        path=site, cwd=tmp,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert (
        "Reading a passage again concentrates the rows" in (tmp / "v" / "report.html").read_text()
    )


def test_a_claim_dropped_into_the_package(tmp_path):
    files = guide_files()
    assert sorted(files) == [
        "src/bayesmatrix/claims/repetition.py",
        "src/bayesmatrix/experiments/repetition.py",
    ]
    site = tmp_path / "site"
    package = Path(bayesmatrix.__file__).parent
    shutil.copytree(package, site / "bayesmatrix", ignore=shutil.ignore_patterns("__pycache__"))
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    for path, code in files.items():
        (site / path.removeprefix("src/")).write_text(code)
    after = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert {k: v for k, v in after.items() if k in before} == before  # no file edited
    assert len(after) == len(before) + 2
    runs_through_every_interface(site, tmp_path)
    # the contract test, unchanged, finds the new claim and holds it to the contract
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    contract = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "claims" / "test_registry.py"), "-k", "repetition"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert contract.returncode == 0, contract.stdout[-3000:]
    assert re.search(r"\b5 passed\b", contract.stdout), contract.stdout[-500:]


def test_a_claim_installed_through_the_entry_point(tmp_path):
    files = guide_files()
    plug = tmp_path / "plug"
    (plug / "my_claims").mkdir(parents=True)
    (plug / "my_claims" / "__init__.py").write_text("")
    (plug / "my_claims" / "computation.py").write_text(
        files["src/bayesmatrix/experiments/repetition.py"]
    )
    claim = files["src/bayesmatrix/claims/repetition.py"].replace(
        "from bayesmatrix.experiments.repetition import", "from my_claims.computation import"
    )
    (plug / "my_claims" / "repetition.py").write_text(claim)
    info = plug / "my_claims-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-claims\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[bayesmatrix.claims]\nrepetition = my_claims.repetition\n"
    )
    runs_through_every_interface(plug, tmp_path)
