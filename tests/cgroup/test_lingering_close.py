"""Uploads past the body limit read their 413, not a reset: real gunicorn in a cgroup.

A client that keeps sending its body after the server answered 413 and closed gets a reset
on its next write, and most clients then report that reset instead of the answer. The
server closes such a connection the way nginx does (lingering close): it shuts its write
side after the answer and reads and discards the rest, within LINGER_* bounds.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from serving import Service, run_service

from service.settings import Settings
from service.sizing.planning import plan_for

LINGER_TIME_S = 3.0
LINGER_MAX_BYTES = 32 << 20
ENV = {"LINGER_TIME_S": str(LINGER_TIME_S), "LINGER_MAX_BYTES": str(LINGER_MAX_BYTES)}
LIMIT = Settings().max_body_bytes or plan_for(Settings()).max_body_bytes
BODY_BYTES = 4 << 20  # ten times the limit
CLIENTS, ROUNDS = 8, 3
GIVE_UP_S = 30
HEAD = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
PIECE = b" " * 65536


@pytest.fixture(scope="module")
def svc() -> Iterator[Service]:
    memory = plan_for(Settings()).memory_mib
    with run_service(ENV, cpu_quota=2.0, memory_mib=memory, wait_workers=2) as service:
        yield service


def connect(svc: Service) -> socket.socket:
    host, port = svc.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=GIVE_UP_S)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


@dataclass
class Upload:
    sent: int = 0  # body bytes the client wrote
    answer: bytes = b""
    send_error: str = ""
    read_error: str = ""
    answered_at: float = 0.0
    eof: bool = False  # the server shut its side (a client keeps sending regardless)
    closed_at: float = 0.0  # when a write or read failed, or the end was read

    @property
    def outcome(self) -> str:
        """'413' when the whole answer was read with its JSON body, else what happened."""
        head, _, body = self.answer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 413"):
            return f"no 413: {self.send_error or self.read_error or head[:20]!r}"
        length = next(
            int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )  # fmt: skip
        if len(body) < length or "MAX_BODY_BYTES" not in json.loads(body[:length])["detail"]:
            return "partial 413"
        # A client that reads after its write failed still finds the answer on Linux; most
        # (requests, urllib3, curl, any proxy in between) report the failed write instead.
        return f"413 read after {self.send_error}" if self.send_error else "413"


def upload(svc: Service, *, chunked: bool, total: int | None, pace_s: float = 0.0) -> Upload:
    """Streams a body of `total` bytes (None: until the server cuts it), reading whatever the
    server answers meanwhile, then reads to the end, as an HTTP client writing its whole body
    before it looks at the answer (curl, requests, httpx) sees it."""
    result = Upload()
    framing = b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Content-Length: %d\r\n\r\n"
    with connect(svc) as sock:
        sock.sendall(HEAD + (framing if chunked else framing % (total or 1 << 40)))
        try:
            while total is None or result.sent < total:
                _read_ready(sock, result)
                sock.sendall(chunk(PIECE) if chunked else PIECE)
                result.sent += len(PIECE)
                time.sleep(pace_s)
            if chunked and total is not None:
                sock.sendall(b"0\r\n\r\n")
        except OSError as exc:
            result.send_error = type(exc).__name__
            result.closed_at = result.closed_at or time.monotonic()
        sock.settimeout(GIVE_UP_S)
        while True:
            try:
                data = sock.recv(65536)
            except OSError as exc:
                result.read_error = type(exc).__name__
                break
            if not data:
                break
            _got(result, data)
        result.closed_at = result.closed_at or time.monotonic()
    return result


def _read_ready(sock: socket.socket, result: Upload) -> None:
    # Errors are left to the write that follows, as a client busy writing sees them.
    while not result.eof and select.select([sock], [], [], 0)[0]:
        data = sock.recv(65536)
        result.eof = not data
        _got(result, data)


def _got(result: Upload, data: bytes) -> None:
    if data and not result.answer:
        result.answered_at = time.monotonic()
    result.answer += data


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_concurrent_uploads_past_the_limit_each_read_their_413(svc: Service, chunked: bool) -> None:
    outcomes: Counter[str] = Counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(ROUNDS):
            runs = [
                pool.submit(upload, svc, chunked=chunked, total=BODY_BYTES) for _ in range(CLIENTS)
            ]
            outcomes.update(run.result().outcome for run in runs)
    print(f"{CLIENTS} x {ROUNDS} uploads of {BODY_BYTES} bytes (limit {LIMIT}): {dict(outcomes)}")
    assert outcomes == {"413": CLIENTS * ROUNDS}
    assert httpx.get(svc.url + "/info").status_code == 200


@pytest.mark.parametrize(
    ("pace_s", "bound"),
    [(0.05, "time"), (0.0, "bytes")],
    ids=["slow-endless", "fast-endless"],
)
def test_an_upload_that_never_ends_is_cut_after_the_linger_bound(
    svc: Service, pace_s: float, bound: str
) -> None:
    started = time.monotonic()
    result = upload(svc, chunked=True, total=None, pace_s=pace_s)
    assert result.answered_at, f"no answer after {result.sent} bytes"
    lingered = result.closed_at - result.answered_at
    print(
        f"endless upload ({bound} bound): 413 after {result.answered_at - started:.2f} s,"
        f" cut {lingered:.2f} s later, {result.sent >> 20} MiB sent"
        f" (LINGER_TIME_S={LINGER_TIME_S:g}, LINGER_MAX_BYTES={LINGER_MAX_BYTES >> 20} MiB)"
    )
    assert result.outcome.startswith("413")  # read in full, whatever the write then met
    assert lingered < LINGER_TIME_S + 10  # the bound plus scheduling slack on a busy machine
    if bound == "bytes":
        assert result.sent < 4 * LINGER_MAX_BYTES + BODY_BYTES
    assert httpx.get(svc.url + "/info").status_code == 200
