"""`bayesmatrix serve`: the web explorer on localhost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayesmatrix.cli import app, console
from bayesmatrix.errors import BayesmatrixError


@app.command("serve")
def serve_cmd(
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    host: Annotated[str, typer.Option(help="interface; keep 127.0.0.1 unless you mean it")] = (
        "127.0.0.1"
    ),
    allow_dir: Annotated[
        list[Path], typer.Option(help="directory whose model folders may be loaded; repeatable")
    ] = [],  # noqa: B006
) -> None:
    """Explore rows in the browser: trace prompts, click positions, watch ICL updating."""
    import uvicorn

    from bayesmatrix.server import create_app

    for d in allow_dir:
        if not d.is_dir():
            raise BayesmatrixError(f"--allow-dir {d} is not a directory")
    console.print(f"bayesmatrix explorer on http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(create_app(allow_dir), host=host, port=port, log_level="warning")
