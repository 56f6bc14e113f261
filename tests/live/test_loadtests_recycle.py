"""The in-cluster load test's two cluster-facing habits, with real Locust and real gunicorn:
users reconnect every RECYCLE_EVERY requests (a Service balances per connection, so pods the
HPA adds get traffic), and the run ends with a JSON summary line (its results outlive the pod).

A counting TCP relay sits between Locust and the service: it sees each new connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serving import run_service

REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).with_name("locust"))


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections = 0
    target: tuple[str, int] = ("127.0.0.1", 0)


class _Pipe(socketserver.BaseRequestHandler):
    server: _Relay

    def handle(self) -> None:
        self.server.connections += 1
        with socket.create_connection(self.server.target) as upstream:
            back = threading.Thread(target=self._copy, args=(upstream, self.request))
            back.start()
            self._copy(self.request, upstream)
            back.join()

    @staticmethod
    def _copy(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        # Pass the close on, as a relay must, so the other side sees the connection end.
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    with run_service() as service:
        yield service.url


@pytest.fixture
def relay(service_url: str) -> Iterator[_Relay]:
    parts = urlsplit(service_url)
    server = _Relay(("127.0.0.1", 0), _Pipe)
    server.target = (parts.hostname or "127.0.0.1", parts.port or 80)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def run_locust(relay: _Relay, tmp_path: Path, recycle_every: int) -> tuple[dict[str, object], int]:
    env = {
        **os.environ,
        "LOCUST_HOST": f"http://127.0.0.1:{relay.server_address[1]}",
        "CONSTANT_USERS": "2", "CONSTANT_SECONDS": "4", "SPAWN_RATE": "10",
        "RECYCLE_EVERY": str(recycle_every),
        "SLO_MAX_FAILURE_RATIO": "0.05", "SLO_P95_MS": "5000", "SLO_P99_MS": "10000",
    }  # fmt: skip
    run = subprocess.run(
        [LOCUST, "-f", "loadtests/locustfile.py,loadtests/shapes/constant.py", "--headless",
         "--csv", str(tmp_path / "locust")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, run.stdout + run.stderr
    return summary, relay.connections


def test_users_reconnect_every_n_requests(relay: _Relay, tmp_path: Path) -> None:
    summary, connections = run_locust(relay, tmp_path, recycle_every=5)

    requests = int(summary["requests"])  # type: ignore[call-overload]
    assert requests > 20
    # Each user opens one connection, then one more after every 5th request.
    assert connections >= requests // 5


def test_keep_alive_without_recycling(relay: _Relay, tmp_path: Path) -> None:
    summary, connections = run_locust(relay, tmp_path, recycle_every=0)

    assert int(summary["requests"]) > 20  # type: ignore[call-overload]
    assert connections <= 4  # one per user (a retry at most)


def test_the_last_line_is_a_json_summary(relay: _Relay, tmp_path: Path) -> None:
    summary, _ = run_locust(relay, tmp_path, recycle_every=0)

    assert summary["slo"] == "PASS"
    assert set(summary) == {
        "slo", "requests", "failures", "p95_ms", "p99_ms", "rps", "wrong_labels", "rows",
    }  # fmt: skip
