"""The HTTP limits of service/server/limits.py, in process: no sockets, no root, no waiting.

uvicorn's own protocol tests (tests/protocols/test_http.py: MockTransport, MockLoop) are the
pattern, shortened here: the protocol runs on a fake transport and loop, bytes go in through
data_received, responses come out of the transport, timers fire when the test moves the
fake clock. tests/cgroup/test_hostile_http.py runs the same limits on real gunicorn (root).

The last tests are the guard on the uvicorn and httptools the subclass was checked against.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.metadata
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import pytest
from uvicorn.config import Config
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from service.server.limits import CHECKED_AGAINST, HttpLimits, LimitedHttpToolsProtocol

# Small limits, so that each request below is short enough to read.
LIMITS = HttpLimits(
    request_line=100,
    fields=10,
    field_size=100,
    header_bytes=600,
    header_timeout_s=10.0,
    min_body_bytes_per_s=100,  # 1000 bytes per header_timeout_s window
    requests_per_connection=3,
)
GET = b"GET /info HTTP/1.1\r\nHost: t\r\n\r\n"
POST_HEAD = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n"


# --- the fake transport and loop ------------------------------------------------------------


class FakeTransport:
    """The part of asyncio.Transport the protocol uses; a write after close fails the test."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return extra.get(name, default)

    def write(self, data: bytes) -> None:
        assert not self.closed, f"written after close: {data[:80]!r}"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class FakeTimer:
    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTask:
    def __init__(self, coro: Coroutine[Any, Any, None]) -> None:
        self.coro = coro
        self.done_callbacks: list[Callable[[FakeTask], object]] = []

    def add_done_callback(self, callback: Callable[[FakeTask], object]) -> None:
        self.done_callbacks.append(callback)


class FakeLoop:
    """Timers on a clock the test moves; request tasks run only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[FakeTimer] = []
        self.tasks: list[FakeTask] = []

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        timer = FakeTimer(self.now + delay, callback, args)
        self.timers.append(timer)
        return timer

    def create_task(
        self, coro: Coroutine[Any, Any, None], *, context: contextvars.Context | None = None
    ) -> FakeTask:
        task = FakeTask(coro)
        self.tasks.append(task)
        return task

    def advance(self, seconds: float) -> None:
        """Moves the clock, firing the timers due by then in order."""
        self.now += seconds
        while due := [t for t in self.timers if t.when <= self.now and not t.cancelled]:
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            timer.callback(*timer.args)

    async def run_tasks(self) -> None:
        """Runs the request tasks started so far to their end (a hang fails after 5 s)."""
        async with asyncio.timeout(5):
            while self.tasks:
                task = self.tasks.pop(0)
                await task.coro
                for callback in task.done_callbacks:
                    callback(task)

    def close(self) -> None:
        """Cancels the tasks never run, as a real loop would: their done callbacks run."""
        for task in self.tasks:
            task.coro.close()  # and no "coroutine was never awaited" warning
            for callback in task.done_callbacks:
                callback(task)
        self.tasks.clear()


# --- the app, the connection, the responses -------------------------------------------------

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def hello(scope: Message, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers 200 "hello"."""
    more_body = True
    while more_body:
        more_body = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


@dataclass
class Response:
    status: int
    head: bytes  # status line and headers, lower case
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b": ")
            if key == name:
                return value
        return None

    @property
    def closes(self) -> bool:
        return self.header(b"connection") == b"close"

    @property
    def detail(self) -> str:
        detail: str = json.loads(self.body)["detail"]
        return detail


def parse_responses(data: bytes) -> list[Response]:
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: (\d+)", head, re.IGNORECASE)
        assert length, f"no content-length in {head!r}"
        size = int(length.group(1))
        found.append(Response(int(head.split(b" ", 2)[1]), head.lower(), rest[:size]))
        data = rest[size:]
    return found


@dataclass
class Connection:
    protocol: HttpToolsProtocol
    transport: FakeTransport
    loop: FakeLoop = field(repr=False)

    def send(self, data: bytes, chunk: int | None = None) -> None:
        """`data` as a client sends it, `chunk` bytes at a time; nothing once closed."""
        step = chunk or len(data)
        for start in range(0, len(data), step):
            if self.transport.closed:
                return
            self.protocol.data_received(data[start : start + step])

    def responses(self) -> list[Response]:
        return parse_responses(self.transport.written)

    def refusal(self) -> Response:
        """The one response written, which must close the connection."""
        (response,) = self.responses()
        assert response.closes and self.transport.closed
        return response


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> HttpLimits:
    # A ClassVar (the worker sets it once): monkeypatch puts it back afterwards.
    monkeypatch.setattr(LimitedHttpToolsProtocol, "limits", LIMITS)
    return LIMITS


@pytest.fixture
def connect() -> Iterator[Callable[..., Connection]]:
    loops: list[FakeLoop] = []

    def make(protocol_class: type[HttpToolsProtocol] = LimitedHttpToolsProtocol) -> Connection:
        config = Config(app=hello, http=protocol_class, ws="none", log_config=None)
        config.load()
        loop, transport = FakeLoop(), FakeTransport()
        loops.append(loop)
        protocol = protocol_class(
            config=config,
            server_state=ServerState(),
            app_state={},
            _loop=cast(asyncio.AbstractEventLoop, loop),
        )
        protocol.connection_made(cast(asyncio.Transport, transport))
        return Connection(protocol, transport, loop)

    yield make
    for loop in loops:
        loop.close()


@pytest.fixture
def conn(connect: Callable[..., Connection]) -> Connection:
    return connect()


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

# What limits.py calls, extends or reads of uvicorn's HttpToolsProtocol and its request cycle.
UVICORN_METHODS = (
    "connection_made",
    "connection_lost",
    "_unset_keepalive_if_required",
    "_should_upgrade",
    "handle_websocket_upgrade",
    "_unsupported_upgrade_warning",
    "send_400_response",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
)
UVICORN_ATTRIBUTES = ("parser", "transport", "loop", "logger", "flow", "cycle", "url", "headers")
UVICORN_CYCLE_ATTRIBUTES = (
    "response_complete",
    "response_started",
    "keep_alive",
    "more_body",
    "disconnected",
    "message_event",
)
# The methods limits.py replaces on purpose.
OVERRIDES = {"connection_made", "connection_lost", "data_received"} | {
    name for name in UVICORN_METHODS if name.startswith("on_")
}


def test_installed_uvicorn_and_httptools_are_the_versions_limits_py_was_checked_against() -> None:
    installed = {name: importlib.metadata.version(name) for name in CHECKED_AGAINST}

    assert installed == CHECKED_AGAINST, (
        f"installed {installed}, but service/server/limits.py was checked against"
        f" {CHECKED_AGAINST}. Re-read LimitedHttpToolsProtocol against the new uvicorn"
        " (protocols/http/httptools_impl.py: its data_received is a copy of uvicorn's, and it"
        " uses uvicorn's private names) and httptools sources, then update CHECKED_AGAINST."
    )


def test_uvicorn_names_limits_py_uses_still_exist(connect: Callable[..., Connection]) -> None:
    conn = connect()
    conn.send(POST_HEAD)  # a request under way: its cycle exists
    protocol, cycle = conn.protocol, conn.protocol.cycle

    missing = [n for n in UVICORN_METHODS if not callable(getattr(HttpToolsProtocol, n, None))]
    missing += [n for n in UVICORN_ATTRIBUTES if n not in vars(protocol)]
    missing += [f"cycle.{n}" for n in UVICORN_CYCLE_ATTRIBUTES if n not in vars(cycle)]
    missing += [f"flow.{n}" for n in ("read_paused",) if not hasattr(protocol.flow, n)]
    missing += [n for n in ("STATUS_LINE",) if not hasattr(httptools_impl, n)]
    missing += [n for n in ("HttpParserError", "HttpParserUpgrade") if not hasattr(httptools, n)]

    assert missing == [], f"gone from the installed uvicorn/httptools, used by limits.py: {missing}"


def test_names_limits_py_adds_are_not_uvicorns(connect: Callable[..., Connection]) -> None:
    source = inspect.getsource(LimitedHttpToolsProtocol)
    own_state = set(re.findall(r"self\.(\w+)\s*(?::[^=\n]+)?=(?!=)", source))
    own_methods = {n for n in vars(LimitedHttpToolsProtocol) if not n.startswith("__")} - OVERRIDES
    plain = connect(HttpToolsProtocol)
    plain.send(POST_HEAD)

    clashes = (own_state | own_methods) & (set(dir(HttpToolsProtocol)) | set(vars(plain.protocol)))

    assert clashes == set(), (
        f"limits.py's names are uvicorn's too now: {sorted(clashes)} (rename them; an override"
        " made on purpose goes in OVERRIDES)"
    )
