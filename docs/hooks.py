"""mkdocs build hook: the home page from README (one text, so the two never drift) and the
per-claim pages, written from bayesmatrix's claim registry."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

from bayesmatrix.report.claim_pages import claim_pages

README = Path(__file__).parents[1] / "README.md"


def home_page(readme: str) -> str:
    """README with its links into docs/ made relative to the site's root."""
    return readme.replace("](docs/capabilities/)", "](claims/index.md)").replace("](docs/", "](")


def on_files(files: Files, config: object) -> Files:
    files.append(File.generated(config, "index.md", content=home_page(README.read_text())))  # type: ignore[arg-type]
    for path, text in claim_pages().items():
        files.append(File.generated(config, path, content=text))  # type: ignore[arg-type]
    return files
