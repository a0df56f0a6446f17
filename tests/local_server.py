"""``emotag serve`` in a subprocess on a free 127.0.0.1 port, for tests, benchmarks, notebooks.

A real server process (not FastAPI's in-process TestClient) is what a browser test, a load
test or a multi-worker check needs: real sockets, real uvicorn, the real command line. The
context manager waits until ``/healthz`` answers, fails with the server's own log if the
process dies first, and stops the process however the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class ServerStartError(RuntimeError):
    """The server exited or never became healthy; the message ends with its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None,
                 log: Path | None = None) -> None:
    """Poll ``url/healthz`` until it answers 200; raise early if ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise ServerStartError(f"emotag serve exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:  # refused while starting, 503 while the model loads
            pass
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise ServerStartError(f"{url}/healthz not ready after {timeout:.0f} s:\n{tail}")
        time.sleep(0.3)


@contextmanager
def local_server(model_dir: str | Path | None = None, args: Sequence[str] = (),
                 env: dict[str, str] | None = None, timeout: float = 180.0) -> Iterator[str]:
    """Run ``emotag serve [model_dir] *args`` while the block runs; yield its base URL.

    ``env`` entries are added to this process's environment for the server.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "emotag.cli.app", "serve",
           *([str(model_dir)] if model_dir is not None else []),
           "--host", "127.0.0.1", "--port", str(port), *args]
    with tempfile.TemporaryDirectory(prefix="emotag-serve-") as tmp:
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, timeout, proc, log)
            yield url
        finally:
            proc.terminate()  # uvicorn stops its workers on SIGTERM
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
