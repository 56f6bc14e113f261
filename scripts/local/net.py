"""Loopback ports and waiting for a started server, shared by every tool that starts one."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_status(url: str, path: str, timeout_s: float) -> int:
    """GET on a fresh connection (as kubelet probes do); the status code."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_ready(
    process: subprocess.Popen[bytes],
    log: Path,
    url: str,
    *,
    workers: int = 1,
    path: str = "/readyz",
    timeout_s: float = 90,
    poll: Callable[[str, str, float], int] = get_status,
) -> None:
    """Until `workers` gunicorn workers logged start-up and `path` answers 200.

    Raises RuntimeError with the log's tail when the process exits first, TimeoutError when
    it never gets there.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{text[-3000:]}")
        if text.count("Application startup complete") >= workers:
            try:
                if poll(url, path, 2.0) == 200:
                    return
            except OSError:
                pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready in {timeout_s:g} s:\n{log.read_text()[-3000:]}")
