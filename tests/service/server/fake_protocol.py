"""A fake transport and loop for uvicorn's HTTP protocol, as uvicorn's own protocol tests use
(tests/protocols/test_http.py: MockTransport, MockLoop), shortened: bytes go in through
data_received, responses come out of the transport, timers fire when the test moves the
fake clock. Shared by tests/service/server/ through its conftest.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.server.limits import HttpLimits
from service.server.lingering import LingerLimits

# Small limits, so that each request below is short enough to read.
LIMITS = HttpLimits(
    request_line=100,
    fields=10,
    field_size=100,
    header_bytes=600,
    header_timeout_s=10.0,
    min_body_bytes_per_s=100,  # 1000 bytes per header_timeout_s window
    requests_per_connection=3,
    linger=LingerLimits(time_s=30.0, timeout_s=5.0, max_bytes=10_000),
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
        self.eof = False  # write_eof(): the write side shut, reading goes on

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return extra.get(name, default)

    def write(self, data: bytes) -> None:
        assert not self.closed, f"written after close: {data[:80]!r}"
        assert not self.eof, f"written after write_eof: {data[:80]!r}"
        self.written += data

    def write_eof(self) -> None:
        assert not self.closed, "write_eof after close"
        self.eof = True

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

    def call_soon(self, callback: Callable[..., object], *args: Any) -> FakeTimer:
        """Runs at the next `advance`, even of 0 s: a loop iteration passing."""
        return self.call_later(0, callback, *args)

    def time(self) -> float:
        return self.now

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
App = Callable[[Message, Receive, Send], Awaitable[None]]


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
