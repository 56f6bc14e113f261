"""uvicorn's httptools protocol with the limits a hostile client needs: 414, 431, 408.

uvicorn enforces no request-line, header-count or header-size limit with httptools, and its
keep-alive timer starts only after a response, so a client that sends headers a byte at a
time, or nothing, or a body at 1 KiB/s, holds a connection for as long as it likes.
gunicorn's `limit_request_*` settings apply to gunicorn's own parser only. This subclass
adds those checks to the parser callbacks and two timers; everything else is uvicorn's.

It also ends a kept-alive connection after `requests_per_connection` requests (nginx's
`keepalive_requests`): a connection stays with the worker, and the pod, that accepted it, so
a burst of connections split unevenly between the workers (they share one listening socket)
or made before the HPA added pods would stay uneven for as long as the client keeps them.
Reconnecting, the client lands on whichever worker accepts first: the least busy one.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.server.lingering import LingerLimits
from service.settings import Settings

# The subclass copies uvicorn's data_received and uses its private names: re-read it against
# any other version's sources (tests/service/server/test_limits.py fails until then).
CHECKED_AGAINST = {"uvicorn": "0.54.0", "httptools": "0.9.0"}


@dataclass(frozen=True)
class HttpLimits:
    request_line: int = 4094
    fields: int = 100
    field_size: int = 8190
    header_bytes: int = 32768
    header_timeout_s: float = 10.0
    min_body_bytes_per_s: int = 8192
    requests_per_connection: int = 100
    linger: LingerLimits = field(default_factory=LingerLimits)

    @classmethod
    def from_settings(cls, s: Settings) -> HttpLimits:
        return cls(
            request_line=s.limit_request_line,
            fields=s.limit_request_fields,
            field_size=s.limit_request_field_size,
            header_bytes=s.limit_request_header_bytes,
            header_timeout_s=s.header_timeout_s,
            min_body_bytes_per_s=s.min_body_bytes_per_s,
            requests_per_connection=s.max_requests_per_connection,
            linger=LingerLimits(s.linger_time_s, s.linger_timeout_s, s.linger_max_bytes),
        )


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    # Set once per worker process by service.server.worker before any connection exists.
    limits: ClassVar[HttpLimits] = HttpLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._in_headers = True
        self._headers_seen = False
        self._header_bytes = 0
        self._fields = 0
        self._field_bytes = 0
        self._body_bytes = 0
        self._requests = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_timer()  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, plus our refusals and the header byte count.
        self._unset_keepalive_if_required()
        if self._in_headers and self._header_timer is None:
            self._arm_header_timer()  # the first byte of the next request on a kept-alive one
        # A chunk that starts and ends inside one header block counts towards its size here,
        # before httptools has handed over a single field (a 1 MiB header is cut at a chunk).
        counting, self._headers_seen = self._in_headers, False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__
            if isinstance(refusal, _Refusal):
                self._refuse(refusal.status, refusal.message)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if counting and not self._headers_seen and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.header_bytes:
                self._refuse(431, f"request headers exceed {self.limits.header_bytes} bytes")

    def _refuse(self, status: int, message: str) -> None:
        self._cancel_timers()
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's refusal while an earlier response is due: bytes written
            # now would land inside that response. Closing is all that is left.
            self.transport.close()
            return
        self._write_refusal(status, message)

    def _write_refusal(self, status: int, message: str, headers: bytes = b"") -> None:
        body = json.dumps({"detail": message}).encode()
        self.transport.write(
            STATUS_LINE[status]
            + b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n"
            + headers
            + b"connection: close\r\n\r\n"
            + body
        )
        self.transport.close()

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._fields = 0
        self._field_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.request_line:
            raise _Refusal(414, f"request target longer than {self.limits.request_line} bytes")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > self.limits.fields:
            raise _Refusal(431, f"more than {self.limits.fields} header fields")
        if len(name) + len(value) > self.limits.field_size:
            raise _Refusal(431, f"a header field exceeds {self.limits.field_size} bytes")
        # The block as parsed (a whole block in one chunk never reaches the count below).
        self._field_bytes += len(name) + len(value) + 4
        if self._field_bytes > self.limits.header_bytes:
            raise _Refusal(431, f"request headers exceed {self.limits.header_bytes} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._headers_seen = True
        self._header_bytes = 0
        self._cancel_header_timer()
        super().on_headers_complete()
        self._requests += 1
        cap = self.limits.requests_per_connection
        if cap and self._requests >= cap and self.cycle is not None:
            self.cycle.keep_alive = False  # uvicorn answers with "connection: close", then closes
        if self._expects_body():
            self._body_bytes = 0
            self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_headers = True
        self._cancel_body_timer()
        super().on_message_complete()

    # --- timers -----------------------------------------------------------------------------

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"", b"0")
            if name == b"transfer-encoding":
                return True
        return False

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self.limits.header_timeout_s, self._header_timeout
        )

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._in_headers and not self.transport.is_closing():
            self._refuse(408, f"headers not complete within {self.limits.header_timeout_s:g} s")

    def _arm_body_timer(self) -> None:
        if self.limits.min_body_bytes_per_s > 0:
            self._body_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._check_body_rate
            )

    def _check_body_rate(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
            return
        window = self.limits.header_timeout_s
        # Paused reading is our back-pressure (the app is not reading yet), not a slow client.
        slow = self._body_bytes < self.limits.min_body_bytes_per_s * window
        if slow and not self.flow.read_paused:
            if self.cycle.response_started:
                self.transport.close()
                return
            # This request's own refusal. Its handler sees a disconnect (a 499, no error) and
            # whatever it answers is dropped, as for any client gone.
            self._cancel_timers()
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self._write_refusal(408, f"body slower than {self.limits.min_body_bytes_per_s} bytes/s")
            return
        self._body_bytes = 0
        self._arm_body_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
