"""The HTTP limits of service/server/limits.py, in process: no sockets, no root, no waiting.

The protocol runs on a fake transport and loop (fake_protocol.py, uvicorn's own test pattern);
tests/cgroup/test_hostile_http.py runs the same limits on real gunicorn (root).
"""

from __future__ import annotations

import pytest
from fake_protocol import GET, LIMITS, POST_HEAD, Connection

# --- a normal request -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_normal_request_gets_200_and_keeps_the_connection(conn: Connection) -> None:
    conn.send(GET)
    await conn.loop.run_tasks()

    (response,) = conn.responses()
    assert (response.status, response.body) == (200, b"hello")
    assert not response.closes
    assert not conn.transport.closed


@pytest.mark.anyio
async def test_headers_completed_within_the_timeout_are_not_timed_out(conn: Connection) -> None:
    half = len(GET) // 2
    conn.send(GET[:half])
    conn.loop.advance(LIMITS.header_timeout_s - 1)
    conn.send(GET[half:])
    await conn.loop.run_tasks()

    conn.loop.advance(1)  # past the moment the header timer would have fired

    assert [r.status for r in conn.responses()] == [200]
    assert not conn.transport.closed


@pytest.mark.anyio
async def test_body_at_the_minimum_rate_is_not_refused(conn: Connection) -> None:
    window = int(LIMITS.min_body_bytes_per_s * LIMITS.header_timeout_s)
    conn.send(POST_HEAD + b"x" * window)
    conn.loop.advance(LIMITS.header_timeout_s)
    conn.send(b"x" * (2000 - window))
    await conn.loop.run_tasks()

    assert [r.status for r in conn.responses()] == [200]


# --- 414 and 431 ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 7], ids=["one-chunk", "7-byte-chunks"])
def test_long_request_target_gets_414(conn: Connection, chunk: int | None) -> None:
    conn.send(b"GET /info?" + b"a" * 200 + b" HTTP/1.1\r\nHost: t\r\n\r\n", chunk)

    response = conn.refusal()
    assert response.status == 414
    assert response.detail == "request target longer than 100 bytes"


def test_too_many_header_fields_get_431(conn: Connection) -> None:
    fields = b"".join(b"x-%d: a\r\n" % i for i in range(LIMITS.fields))  # and Host: one over

    conn.send(b"GET /info HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n")

    response = conn.refusal()
    assert response.status == 431
    assert response.detail == "more than 10 header fields"


def test_one_oversized_header_field_gets_431(conn: Connection) -> None:
    conn.send(b"GET /info HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100 + b"\r\n\r\n")

    response = conn.refusal()
    assert response.status == 431
    assert response.detail == "a header field exceeds 100 bytes"


@pytest.mark.parametrize("chunk", [None, 16], ids=["one-chunk", "16-byte-chunks"])
def test_header_block_over_header_bytes_gets_431(conn: Connection, chunk: int | None) -> None:
    # 8 fields, each within fields and field_size; 8 * 82 bytes together.
    fields = b"".join(b"x-%d: " % i + b"a" * 75 + b"\r\n" for i in range(8))

    conn.send(b"GET /info HTTP/1.1\r\n" + fields + b"\r\n", chunk)

    response = conn.refusal()
    assert response.status == 431
    assert response.detail == "request headers exceed 600 bytes"


def test_header_that_never_ends_is_cut_at_header_bytes(conn: Connection) -> None:
    # httptools hands over a field only once it ends: only the byte count sees this one.
    conn.send(b"GET /info HTTP/1.1\r\nX-Slow: " + b"a" * 10_000, chunk=16)

    response = conn.refusal()
    assert response.status == 431
    assert response.detail == "request headers exceed 600 bytes"
    assert len(conn.transport.written) < 1000  # cut at the limit, not at the end


# --- 408 --------------------------------------------------------------------------------------


def test_headers_not_complete_within_the_timeout_get_408(conn: Connection) -> None:
    conn.send(b"GET /info HTTP/1.1\r\nHost: t\r\n")
    conn.loop.advance(LIMITS.header_timeout_s - 0.1)
    assert conn.transport.written == b""

    conn.loop.advance(0.1)

    response = conn.refusal()
    assert response.status == 408
    assert response.detail == "headers not complete within 10 s"


def test_connection_that_never_sends_a_byte_gets_408(conn: Connection) -> None:
    conn.loop.advance(LIMITS.header_timeout_s)

    assert conn.refusal().status == 408


@pytest.mark.anyio
async def test_slow_next_request_on_a_kept_alive_connection_gets_408(conn: Connection) -> None:
    conn.send(GET)
    await conn.loop.run_tasks()
    conn.send(b"GET /info HTTP/1.1\r\n")

    conn.loop.advance(LIMITS.header_timeout_s)

    assert [r.status for r in conn.responses()] == [200, 408]
    assert conn.responses()[1].closes and conn.transport.closed


@pytest.mark.anyio
async def test_body_slower_than_the_minimum_rate_gets_408(conn: Connection) -> None:
    window = int(LIMITS.min_body_bytes_per_s * LIMITS.header_timeout_s)
    conn.send(POST_HEAD + b"x" * (window - 1))

    conn.loop.advance(LIMITS.header_timeout_s)
    await conn.loop.run_tasks()  # its handler sees a disconnect; its answer goes nowhere

    response = conn.refusal()
    assert response.status == 408
    assert response.detail == "body slower than 100 bytes/s"


# --- requests per connection, pipelining ----------------------------------------------------


@pytest.mark.anyio
async def test_request_reaching_requests_per_connection_closes_the_connection(
    conn: Connection,
) -> None:
    for _ in range(LIMITS.requests_per_connection):
        conn.send(GET)
        await conn.loop.run_tasks()

    *kept, last = conn.responses()
    assert [r.status for r in kept] == [200, 200]
    assert not any(r.closes for r in kept)
    assert last.status == 200 and last.closes
    assert conn.transport.closed


@pytest.mark.anyio
async def test_pipelined_refusal_closes_without_writing_into_the_pending_response(
    conn: Connection,
) -> None:
    too_long = b"GET /info?" + b"a" * 200 + b" HTTP/1.1\r\nHost: t\r\n\r\n"

    conn.send(GET + too_long)  # the first request's response is not written yet

    assert conn.transport.written == b""
    assert conn.transport.closed
    conn.protocol.connection_lost(None)  # what the transport does next
    await conn.loop.run_tasks()  # the first response is dropped, not written after close
    assert conn.transport.written == b""


# --- the uvicorn and httptools the subclass was checked against -----------------------------
