"""The connection cap and lingering close of service/server/connections.py, in process.

A fake transport and loop (fake_protocol.py); tests/cgroup/test_connection_cap.py and
tests/cgroup/test_lingering_close.py run them on real gunicorn (root).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fake_protocol import GET, LIMITS, POST_HEAD, Connection, FakeLoop, Message, Receive, Send

from service.server.connection_slots import ConnectionSlots
from service.server.connections import CappedHttpToolsProtocol

CAP = 2
TOO_LARGE = b'{"detail": "body exceeds MAX_BODY_BYTES=1000"}'


async def refuses_large_bodies(scope: Message, receive: Receive, send: Send) -> None:
    """Reads the first part of the body, then answers 413 and closes, as service/web/body.py."""
    await receive()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
               (b"content-length", b"%d" % len(TOO_LARGE))]  # fmt: skip
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": TOO_LARGE})


@pytest.fixture
def slots(monkeypatch: pytest.MonkeyPatch) -> ConnectionSlots:
    fresh = ConnectionSlots(CAP)
    monkeypatch.setattr(CappedHttpToolsProtocol, "slots", fresh)
    return fresh


@pytest.fixture
def loop() -> FakeLoop:
    return FakeLoop()


@pytest.fixture
def open_conn(
    connect: Callable[..., Connection], loop: FakeLoop, slots: ConnectionSlots
) -> Callable[..., Connection]:
    """A connection to the one worker: its slots, its loop."""
    return lambda app=None: connect(CappedHttpToolsProtocol, *([app] if app else []), loop=loop)


def closed_silently(conn: Connection) -> bool:
    return conn.transport.closed and conn.transport.written == b""


# --- the cap ----------------------------------------------------------------------------------


def test_longest_idle_connection_is_closed_to_make_room(
    open_conn: Callable[..., Connection], loop: FakeLoop, slots: ConnectionSlots
) -> None:
    first, second = open_conn(), open_conn()
    loop.advance(0)  # a poll of their sockets: nothing arrived

    newcomer = open_conn()

    assert closed_silently(first)
    assert not second.transport.closed and not newcomer.transport.closed
    assert slots.held == CAP


@pytest.mark.anyio
async def test_newcomer_is_served_after_making_room(
    open_conn: Callable[..., Connection], loop: FakeLoop
) -> None:
    open_conn(), open_conn()
    loop.advance(0)
    newcomer = open_conn()

    newcomer.send(GET)
    await loop.run_tasks()

    assert [r.status for r in newcomer.responses()] == [200]


def test_connections_not_yet_polled_are_kept_and_the_newcomer_refused(
    open_conn: Callable[..., Connection],
) -> None:
    # Accepted in one burst: their requests may be in flight, unread.
    first, second = open_conn(), open_conn()

    newcomer = open_conn()

    assert newcomer.refusal().status == 503
    assert not first.transport.closed and not second.transport.closed


def test_connections_mid_request_are_kept_and_the_newcomer_gets_503(
    open_conn: Callable[..., Connection], loop: FakeLoop, slots: ConnectionSlots
) -> None:
    busy = [open_conn(), open_conn()]
    for conn in busy:
        conn.send(POST_HEAD)  # a body still to come
    loop.advance(0)

    response = open_conn().refusal()

    assert response.status == 503
    assert response.header(b"retry-after") == b"1"
    assert response.detail == "2 connections busy in this worker (MAX_CONNECTIONS_PER_WORKER)"
    assert not any(conn.transport.closed for conn in busy)
    assert slots.held == CAP


@pytest.mark.anyio
async def test_kept_alive_connection_is_idle_again_after_its_response(
    open_conn: Callable[..., Connection], loop: FakeLoop
) -> None:
    kept, busy = open_conn(), open_conn()
    kept.send(GET)
    await loop.run_tasks()
    busy.send(POST_HEAD)  # its handler waits for the body (not run here)
    loop.advance(0)

    open_conn()

    assert [r.status for r in kept.responses()] == [200]
    assert kept.transport.closed and not busy.transport.closed
    assert kept.protocol.cycle is None  # nothing of its last request kept while idle


def test_lost_connection_gives_its_slot_back(
    open_conn: Callable[..., Connection], loop: FakeLoop, slots: ConnectionSlots
) -> None:
    gone, kept = open_conn(), open_conn()
    gone.protocol.connection_lost(None)
    loop.advance(0)

    open_conn()

    assert slots.held == CAP
    assert not kept.transport.closed


# --- lingering close --------------------------------------------------------------------------


def lingering(conn: Connection) -> bool:
    """The answer sent and the write side shut, the socket still read."""
    return conn.transport.eof and not conn.transport.closed and conn.transport.reading


@pytest.fixture
async def refused(open_conn: Callable[..., Connection], loop: FakeLoop) -> Connection:
    """A 413 answered by the app while the body is still arriving."""
    conn = open_conn(refuses_large_bodies)
    conn.send(POST_HEAD + b"x" * 500)
    await loop.run_tasks()
    return conn


@pytest.mark.anyio
async def test_app_413_before_the_body_ended_lingers(refused: Connection) -> None:
    (response,) = refused.responses()
    assert (response.status, response.body, response.closes) == (413, TOO_LARGE, True)
    assert lingering(refused)

    refused.send(b"x" * 5000)  # the rest of the body: read and dropped

    assert lingering(refused)
    assert refused.transport.written.count(b"HTTP/1.1") == 1


@pytest.mark.anyio
async def test_lingering_ends_after_max_bytes(refused: Connection) -> None:
    refused.send(b"x" * LIMITS.linger.max_bytes)
    assert lingering(refused)

    refused.send(b"x")

    assert refused.transport.closed


@pytest.mark.anyio
async def test_lingering_ends_after_a_silence_of_timeout_s(refused: Connection) -> None:
    refused.loop.advance(LIMITS.linger.timeout_s - 1)
    refused.send(b"x")
    refused.loop.advance(LIMITS.linger.timeout_s - 0.5)
    assert lingering(refused)

    refused.loop.advance(0.5)

    assert refused.transport.closed


@pytest.mark.anyio
async def test_lingering_ends_after_time_s_however_steady_the_bytes(refused: Connection) -> None:
    for _ in range(int(LIMITS.linger.time_s)):
        assert lingering(refused)
        refused.send(b"x")
        refused.loop.advance(1)

    assert refused.transport.closed


@pytest.mark.anyio
async def test_reading_paused_for_an_unread_body_resumes_to_linger(
    open_conn: Callable[..., Connection], loop: FakeLoop
) -> None:
    conn = open_conn(refuses_large_bodies)
    conn.send(POST_HEAD.replace(b"2000", b"200000") + b"x" * 70_000)  # past uvicorn's 64 KiB
    assert not conn.transport.reading

    await loop.run_tasks()

    assert lingering(conn)


def test_protocol_refusal_mid_headers_lingers(open_conn: Callable[..., Connection]) -> None:
    conn = open_conn()
    conn.send(b"GET /info HTTP/1.1\r\nX-Slow: " + b"a" * 1000, chunk=16)

    assert conn.responses()[0].status == 431
    assert lingering(conn)


def test_silent_connection_closes_without_lingering(
    open_conn: Callable[..., Connection], loop: FakeLoop
) -> None:
    conn = open_conn()

    loop.advance(LIMITS.header_timeout_s)

    assert conn.refusal().status == 408
    assert not conn.transport.eof


@pytest.mark.anyio
async def test_lingering_connection_is_the_first_closed_for_room(
    refused: Connection, open_conn: Callable[..., Connection], loop: FakeLoop
) -> None:
    idle = open_conn()
    loop.advance(0)

    open_conn()

    assert refused.transport.closed
    assert not idle.transport.closed


@pytest.mark.anyio
async def test_shutdown_ends_lingering(refused: Connection) -> None:
    refused.protocol.shutdown()

    assert refused.transport.closed
