"""mkdocs build hook: the home page from README (one text, so the two never drift) and the
per-claim pages, written from bayesmatrix's claim registry, each with an example result from
a run of the test profile (BAYESMATRIX_DOCS_EXAMPLE names one; otherwise the first build
makes it under runs/docs-example, about 4 minutes, and later builds reuse it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

from bayesmatrix.report.claim_pages import claim_pages

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"


def home_page(readme: str) -> str:
    """README with its links into docs/ made relative to the site's root."""
    return readme.replace("](docs/capabilities/)", "](claims/index.md)").replace("](docs/", "](")


def example_run() -> Path:
    """The folder of a `validate --profile test` run on the default model (made if missing;
    validate resumes and reuses finished results)."""
    folder = Path(os.environ.get("BAYESMATRIX_DOCS_EXAMPLE", ROOT / "runs" / "docs-example"))
    if not (folder / "verdicts.json").is_file():
        command = [sys.executable, "-m", "bayesmatrix", "validate", "--profile", "test"]
        subprocess.run([*command, "--out", str(folder)], check=True)
    return folder


def on_files(files: Files, config: object) -> Files:
    files.append(File.generated(config, "index.md", content=home_page(README.read_text())))  # type: ignore[arg-type]
    for notebook in sorted((ROOT / "examples").glob("*.ipynb")):  # README links them
        path = f"examples/{notebook.name}"
        files.append(File.generated(config, path, content=notebook.read_bytes()))  # type: ignore[arg-type]
    for path, content in claim_pages(example_run()).items():
        files.append(File.generated(config, path, content=content))  # type: ignore[arg-type]
    return files
