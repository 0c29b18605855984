"""`bayesmatrix serve`: the web explorer on localhost."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from bayesmatrix.cli import Device, Dtype, app, console, loader
from bayesmatrix.errors import BayesmatrixError


@app.command("serve")
def serve_cmd(
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    host: Annotated[str, typer.Option(help="interface; keep 127.0.0.1 unless you mean it")] = (
        "127.0.0.1"
    ),
    allow_dir: Annotated[
        list[Path], typer.Option(help="directory whose model folders may be loaded; repeatable")
    ] = [],  # noqa: B006
    device: Device = "auto",
    dtype: Dtype = "float32",
) -> None:
    """Explore rows in the browser: trace prompts, click positions, watch ICL updating."""
    import uvicorn

    from bayesmatrix.server import create_app
    from bayesmatrix.server.app import LOCAL_HOSTS

    for d in allow_dir:
        if not d.is_dir():
            raise BayesmatrixError(f"--allow-dir {d} is not a directory")
    try:  # fail with one line now rather than with uvicorn's traceback later
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise BayesmatrixError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port, or "
            "stop what is using it"
        ) from None
    app = create_app(allow_dir, load=loader(device, dtype), hosts=(*LOCAL_HOSTS, host))
    console.print(f"bayesmatrix explorer on http://{host}:{port}/  (Ctrl+C to stop)")
    # the first SIGTERM or Ctrl+C stops the server: requests still running after a short
    # grace are cancelled (a long model call cannot hold the process)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
