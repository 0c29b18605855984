"""mkdocs build hook: the per-claim pages, written from bayesmatrix's claim registry."""

from __future__ import annotations

from mkdocs.structure.files import File, Files

from bayesmatrix.report.claim_pages import claim_pages


def on_files(files: Files, config: object) -> Files:
    for path, text in claim_pages().items():
        files.append(File.generated(config, path, content=text))  # type: ignore[arg-type]
    return files
