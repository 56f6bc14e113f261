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


def poll_ready(
    url: str,
    *,
    gone: Callable[[], str | None],
    started: Callable[[], bool] = lambda: True,
    tail: Callable[[], str] = str,
    path: str = "/readyz",
    timeout_s: float = 90,
    interval_s: float = 0.1,
) -> float:
    """Until GET `path` answers 200 on a fresh connection; the seconds it took.

    `gone()` says why the server is no longer running (None while it runs): raised as
    RuntimeError. `started()` gates the first request; `tail()` is the log for the errors.
    TimeoutError when it never gets ready.
    """
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if (why := gone()) is not None:
            raise RuntimeError(f"{why}:\n{tail()}")
        if started():
            try:
                if get_status(url, path, 2.0) == 200:
                    return time.monotonic() - began
            except (OSError, http.client.HTTPException):
                pass
        time.sleep(interval_s)
    raise TimeoutError(f"{url} not ready in {timeout_s:g} s:\n{tail()}")


def wait_ready(
    process: subprocess.Popen[bytes],
    log: Path,
    url: str,
    *,
    workers: int = 1,
    path: str = "/readyz",
    timeout_s: float = 90,
) -> None:
    """A gunicorn started here: ready once `workers` workers logged start-up and `path` is 200."""

    def text() -> str:
        return log.read_text(errors="replace")

    poll_ready(
        url,
        gone=lambda: None if process.poll() is None else f"gunicorn exited {process.returncode}",
        started=lambda: text().count("Application startup complete") >= workers,
        tail=lambda: text()[-3000:],
        path=path,
        timeout_s=timeout_s,
    )
