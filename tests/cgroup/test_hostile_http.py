"""Hostile HTTP clients against real gunicorn + CoreboundWorker in a cgroup sized to its plan:
oversized request lines and headers, silent, slow and abandoned connections, short bodies."""

from __future__ import annotations

import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_text import metric_sum
from serving import Service, run_service

from service.settings import Settings
from service.sizing.planning import plan_for

HEADER_TIMEOUT_S = 2.0
MIN_RATE = 8192
# A refused slow client lingers (test_lingering_close.py) while it keeps sending: briefly here.
LINGER_TIME_S = 2.0
ENV = {
    "HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "MIN_BODY_BYTES_PER_S": str(MIN_RATE),
    "LINGER_TIME_S": str(LINGER_TIME_S),
}
GIVE_UP_S = 30  # a socket timeout far above every documented limit: only a hang reaches it
PREDICT = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def svc() -> Iterator[Service]:
    memory = plan_for(Settings()).memory_mib  # the plan of 2 CPUs, in a limit equal to it
    with run_service(ENV, cpu_quota=2.0, memory_mib=memory, wait_workers=2) as service:
        yield service


def connect(svc: Service) -> socket.socket:
    host, port = svc.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=GIVE_UP_S)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a hang fails at GIVE_UP_S)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def status_of(response: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3})", response)
    return int(match.group(1)) if match else 0


def metric(svc: Service, sample: str, **labels: str) -> float:
    return metric_sum(httpx.get(svc.url + "/metrics").text, sample, **labels)


def server_errors(svc: Service) -> float:
    return metric(svc, "http_requests_total", status="5xx")


def test_long_request_line_gets_414_and_a_close(svc: Service) -> None:
    response = httpx.get(svc.url + "/info?" + "a" * 64_000)
    assert response.status_code == 414
    assert response.headers["connection"] == "close"
    assert "4094" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-big": "a" * (1 << 20)},  # one 1 MiB header
        {f"x-{i}": "a" * 8000 for i in range(8)},  # a 64 KiB block of fields each allowed
        {f"x-{i}": "a" for i in range(150)},  # more fields than LIMIT_REQUEST_FIELDS
        {"x-field": "a" * 9000},  # one field over LIMIT_REQUEST_FIELD_SIZE
    ],
    ids=["1MiB-header", "64KiB-block", "150-fields", "9000-byte-field"],
)
def test_oversized_headers_get_431(svc: Service, headers: dict[str, str]) -> None:
    response = httpx.get(svc.url + "/info", headers=headers)
    assert response.status_code == 431, response.text
    assert response.headers["connection"] == "close"


def test_silent_connection_is_closed_after_the_header_timeout(svc: Service) -> None:
    started = time.monotonic()
    with connect(svc) as sock:
        response = read_all(sock)
    print(f"silent connection closed after {time.monotonic() - started:.2f} s")
    assert status_of(response) == 408


def test_headers_a_byte_at_a_time_are_cut_off(svc: Service) -> None:
    started = time.monotonic()
    request = PREDICT + b"X-Slow: " + b"a" * 100
    sent = 0
    with connect(svc) as sock:
        try:
            for byte in request:  # 5 bytes a second, forever if allowed
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.2)
        except OSError:
            pass  # reset: the server closed while we were still sending
        response = b"" if sent == len(request) else read_all(sock)
    print(f"slowloris cut after {time.monotonic() - started:.2f} s, {sent} bytes")
    assert sent < len(request)
    assert status_of(response) in (408, 0)  # 408, unless the reset ate it


def test_slow_body_is_closed_with_408(svc: Service) -> None:
    started = time.monotonic()
    with connect(svc) as sock:
        sock.sendall(PREDICT + b"Content-Length: 400000\r\n\r\n")
        try:
            for _ in range(int(GIVE_UP_S)):  # 1 KiB/s, far below MIN_BODY_BYTES_PER_S
                sock.sendall(b" " * 1024)
                time.sleep(1)
        except OSError:
            pass
        response = read_all(sock)
    print(f"1 KiB/s upload closed after {time.monotonic() - started:.2f} s")
    assert status_of(response) == 408


def test_early_413_closes_the_connection(svc: Service) -> None:
    with connect(svc) as sock:
        sock.sendall(PREDICT + b"Content-Length: 99999999\r\n\r\n")
        response = read_all(sock)  # returns only because the server closes
    assert status_of(response) == 413
    assert b"connection: close" in response.lower()


def test_abandoned_uploads_and_short_bodies_are_not_server_errors(svc: Service) -> None:
    gone = "corebound_client_disconnects_total"
    errors_before, gone_before = server_errors(svc), metric(svc, gone)
    for i in range(20):
        with connect(svc) as sock:
            sock.sendall(PREDICT + b'Content-Length: 5000\r\n\r\n{"inputs": [[1, 2')
            if i % 2:  # a body shorter than its Content-Length, then end of stream
                sock.shutdown(socket.SHUT_WR)
                read_all(sock)
            time.sleep(0.05)  # the server has read the part before we hang up
    deadline = time.monotonic() + GIVE_UP_S
    while metric(svc, gone) < gone_before + 20:
        assert time.monotonic() < deadline, "disconnects not counted"
        time.sleep(0.2)
    assert server_errors(svc) == errors_before
    log = svc.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert log.count("client went away") >= 20  # one quiet line each


def test_normal_traffic_keeps_working_among_slow_and_silent_clients(svc: Service) -> None:
    stop = threading.Event()
    socks: list[socket.socket] = []

    def slowloris() -> None:
        with connect(svc) as sock:
            socks.append(sock)
            try:
                while not stop.is_set():
                    sock.sendall(b"X")
                    time.sleep(0.5)
            except OSError:
                pass

    silent = [connect(svc) for _ in range(100)]
    threads = [threading.Thread(target=slowloris) for _ in range(100)]
    for thread in threads:
        thread.start()
    latencies: list[float] = []
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=svc.url) as http:
            for _ in range(60):
                started = time.perf_counter()
                statuses.append(http.post("/v1/predict", json={"inputs": [[1.0] * 64]}).status_code)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.05)
        # By now every silent and slow connection has outlived the header timeout.
        closed = sum(sock.recv(65536)[:12] == b"HTTP/1.1 408" for sock in silent)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in silent:
            sock.close()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"predict among 200 hostile connections:"
        f" p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
    )
    assert statuses == [200] * 60
    assert closed == len(silent)
