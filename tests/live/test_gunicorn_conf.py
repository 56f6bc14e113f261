"""gunicorn_conf.py under real gunicorn: every setting through Settings, and the metrics
directory clean-up removes only the metric files it owns."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import httpx
import pytest
from serving import run_service, start_expecting_failure


def test_metrics_dir_cleanup_deletes_only_stale_metric_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.db").write_text("not at the top level: not a metric file")
    (tmp_path / "counter_4242.db").write_bytes(b"\0" * 64)  # a dead run's metric file
    with run_service({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}) as svc:
        assert httpx.get(svc.url + "/metrics").status_code == 200
        assert (tmp_path / "notes.txt").read_text() == "mine"
        assert (tmp_path / "sub" / "data.db").exists()
        assert not (tmp_path / "counter_4242.db").exists()
        assert any(tmp_path.glob("*.db"))  # this run's workers write their own there


@pytest.mark.parametrize(("name", "value"), [("GRACEFUL_TIMEOUT", "30s"), ("LOG_LEVEL", "loud")])
def test_bad_gunicorn_setting_is_refused_naming_the_variable(name: str, value: str) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), name: value}
    result = start_expecting_failure(env)
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert f"{name}={value!r}" in output and "Traceback" not in output


def test_bursts_of_keep_alive_connections_reach_both_workers() -> None:
    # Both workers accept from the one listening socket. Up to three bursts: on a loaded
    # machine the second worker may not wake during one burst of 16 accepts.
    with run_service({"WEB_CONCURRENCY": "2"}, wait_workers=2) as svc:
        host, port = svc.url.removeprefix("http://").split(":")
        bursts = [burst_pids(host, int(port)) for _ in range(3)]
    assert any(len(pids) == 2 for pids in bursts), bursts


def burst_pids(host: str, port: int) -> set[int]:
    """The workers that answered 16 connections opened at once."""
    connections = [http.client.HTTPConnection(host, port, timeout=10) for _ in range(16)]
    try:
        for conn in connections:
            conn.connect()
        pids = set()
        for conn in connections:
            conn.request("GET", "/info")
            pids.add(json.loads(conn.getresponse().read())["pid"])
    finally:
        for conn in connections:
            conn.close()
    return pids


def test_a_kept_alive_connection_is_closed_after_max_requests() -> None:
    with run_service({"WEB_CONCURRENCY": "1", "MAX_REQUESTS_PER_CONNECTION": "5"}) as svc:
        host, port = svc.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        closes, ports = [], set()
        try:
            for _ in range(12):
                conn.request("GET", "/info")  # reconnects by itself after a close
                ports.add(conn.sock.getsockname()[1])
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                closes.append(response.getheader("connection") == "close")
        finally:
            conn.close()
    assert closes == [i % 5 == 4 for i in range(12)]
    assert len(ports) == 3  # three connections, each closed by the server after 5 answers
