"""The explorer started as a real server process on a free local port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def start_server(timeout: float = 90.0) -> tuple[subprocess.Popen, str]:
    """`bayesmatrix serve` on a free port of 127.0.0.1, once it answers: (process, base URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bayesmatrix.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start: " + proc.stdout.read().decode()[-2000:])
