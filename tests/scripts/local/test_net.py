"""scripts.local.net against a real HTTP server on loopback: ports, readiness, its errors."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from scripts.local.net import free_port, get_status, poll_ready


class Handler(http.server.BaseHTTPRequestHandler):
    ready = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200 if self.ready.is_set() and self.path == "/readyz" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@pytest.fixture
def server() -> Iterator[str]:
    Handler.ready.clear()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_poll_ready_waits_for_started_then_200(server: str) -> None:
    assert get_status(server, "/readyz", 2) == 503
    calls = []

    def started() -> bool:
        calls.append(1)
        if len(calls) == 3:
            Handler.ready.set()  # becomes ready only after a few polls
        return len(calls) >= 3

    seconds = poll_ready(server, gone=lambda: None, started=started, interval_s=0.01)
    assert seconds >= 0 and len(calls) == 3


def test_poll_ready_raises_when_the_server_is_gone(server: str) -> None:
    with pytest.raises(RuntimeError, match="exited 3:\nlast log line"):
        poll_ready(server, gone=lambda: "exited 3", tail=lambda: "last log line")


def test_poll_ready_times_out_with_the_tail(server: str) -> None:
    with pytest.raises(TimeoutError, match=r"not ready in 0\.05 s:\nlog"):
        poll_ready(server, gone=lambda: None, tail=lambda: "log", timeout_s=0.05)
