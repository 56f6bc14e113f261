"""Lingering close, as nginx's `lingering_close`: an answer the client can read in full.

A server that answers before it read the whole request (413 for a body over the limit, 431,
414, 408) and then closes its socket has unread bytes in its receive buffer, or gets more:
its kernel answers them with a reset. The client, still writing its body, sees that reset on
its next write, and most clients report it instead of the answer (Python's http.client,
urllib3 and requests do; a proxy in between may drop the answer too). Lingering, the server
shuts only its write side once the answer is sent, then reads and discards what the client
still sends until the client closes, stays silent `timeout_s`, has sent `max_bytes` more or
`time_s` has passed (nginx's lingering_timeout and lingering_time), and only then closes.

`FrontTransport` is the transport uvicorn's protocol and request cycles are given: its
`close()` asks the connection how to close instead of closing the socket at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LingerLimits:
    time_s: float = 30.0
    timeout_s: float = 5.0
    max_bytes: int = 64 << 20


class FrontTransport(asyncio.Transport):
    """Passes everything to the socket's transport, except close(): `on_close` decides.

    Once closing, writes and reading changes from uvicorn are dropped: the connection owns the
    socket from then on (a request still running may answer after a refusal closed it).
    """

    __slots__ = ("_on_close", "closing", "raw")

    def __init__(self, raw: asyncio.Transport, on_close: Callable[[], None]) -> None:
        super().__init__()
        self.raw = raw
        self.closing = False
        self._on_close = on_close

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self._on_close()

    def is_closing(self) -> bool:
        return self.closing or self.raw.is_closing()

    def write(self, data: bytes | bytearray | memoryview[Any]) -> None:
        if not self.closing:
            self.raw.write(data)

    def writelines(self, list_of_data: Any) -> None:
        if not self.closing:
            self.raw.writelines(list_of_data)

    def pause_reading(self) -> None:
        if not self.closing:
            self.raw.pause_reading()

    def resume_reading(self) -> None:
        if not self.closing:
            self.raw.resume_reading()

    def is_reading(self) -> bool:
        return self.raw.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.raw.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.raw.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.raw.get_protocol()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self.raw.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.raw.get_write_buffer_limits()

    def write_eof(self) -> None:
        self.raw.write_eof()

    def can_write_eof(self) -> bool:
        return self.raw.can_write_eof()

    def abort(self) -> None:
        self.closing = True
        self.raw.abort()


class Linger:
    """One connection's lingering: discards what arrives, closes the socket at a bound."""

    __slots__ = ("last_byte", "limits", "loop", "raw", "received", "started", "timer")

    def __init__(
        self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop, limits: LingerLimits
    ) -> None:
        self.raw, self.loop, self.limits = raw, loop, limits
        self.started = self.last_byte = loop.time()
        self.received = 0
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        try:
            self.raw.write_eof()  # FIN once the answer is flushed: the client reads it all
        except (OSError, RuntimeError):  # the socket is gone already
            self.raw.close()
            return
        self.raw.resume_reading()  # uvicorn may have paused it for the unread body
        first = min(self.limits.timeout_s, self.limits.time_s)
        self.timer = self.loop.call_later(first, self._check)

    def discard(self, size: int) -> None:
        self.received += size
        self.last_byte = self.loop.time()
        if self.received > self.limits.max_bytes:
            self.end()

    def end(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.raw.close()

    def _check(self) -> None:
        # One timer, moved on rather than re-armed for every chunk that arrives.
        due = min(self.last_byte + self.limits.timeout_s, self.started + self.limits.time_s)
        left = due - self.loop.time()
        if left <= 0:
            self.timer = None
            self.end()
        else:
            self.timer = self.loop.call_later(left, self._check)
