"""The worker's HTTP protocol: the limits of limits.py, a connection cap, lingering close.

Each connection takes one of the worker's slots (connection_slots.py) and says when it is
idle (no request begun: new, or kept alive between requests) or lingering, so that the cap
closes the longest idle one first. A close while a request is still arriving lingers
(lingering.py): the client reads its 413, 431, 414, 408 or 400 instead of a reset.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from service.server.connection_slots import ConnectionSlots
from service.server.limits import LimitedHttpToolsProtocol
from service.server.lingering import FrontTransport, Linger

RETRY_AFTER_S = 1  # a slot frees as soon as any request on this worker ends


class CappedHttpToolsProtocol(LimitedHttpToolsProtocol):
    # Set once per worker process by service.server.worker before any connection exists.
    slots: ClassVar[ConnectionSlots] = ConnectionSlots(1000)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._socket = transport
        self._front = FrontTransport(transport, self._close_connection)
        self._request_open = False
        self._linger: Linger | None = None
        self._shutting_down = False
        self.idle_epoch = 0
        self._holds_slot = self.slots.take()
        super().connection_made(self._front)
        if self._holds_slot:
            self.slots.mark_idle(self)
        else:
            self._cancel_timers()
            self._write_refusal(
                503,
                f"{self.slots.cap} connections busy in this worker (MAX_CONNECTIONS_PER_WORKER)",
                b"retry-after: %d\r\n" % RETRY_AFTER_S,
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.closing = True  # uvicorn closes it again: no lingering on a lost socket
        if self._linger is not None:
            self._linger.end()
        self._give_back_slot()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:
            self._linger.discard(len(data))
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self._request_open = True  # bytes that are no request: the client may send more
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        self._request_open = True
        if self._holds_slot:
            self.slots.mark_busy(self)
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._request_open = False
        super().on_message_complete()
        if self.cycle.response_complete:  # answered before its body ended (a kept-alive 503)
            self._idle_if_done()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_if_done()

    def handle_websocket_upgrade(self) -> None:
        # uvicorn's WebSocket protocol takes the socket over (and its connection_lost): the
        # slot goes now, and a close by it is plain. No route accepts one (403, closed).
        self._give_back_slot()
        super().handle_websocket_upgrade()

    def shutdown(self) -> None:
        # The worker is stopping: nothing lingers past it, nothing starts to.
        self._shutting_down = True
        if self._linger is not None:
            self._linger.end()
            return
        super().shutdown()

    def reclaim(self) -> None:
        """Closed by the cap to make room: this connection is idle or lingering."""
        self._give_back_slot()
        self._front.closing = True
        self._cancel_timers()
        self._unset_keepalive_if_required()
        if self._linger is not None:
            self._linger.end()
        else:
            self._socket.close()

    def _idle_if_done(self) -> None:
        done = self.cycle is None or self.cycle.response_complete
        if done and not self._request_open and self._holds_slot and not self._front.closing:
            # What the last request left (its body read ahead, up to 32 KiB of headers) is not
            # kept while idle: an idle connection costs the same whatever it carried.
            self.cycle = self.scope = self.headers = None  # type: ignore[assignment]
            self.slots.mark_idle(self)

    def _close_connection(self) -> None:
        # Every close uvicorn or limits.py asks for comes here, through FrontTransport.close().
        if self._request_open and self._holds_slot and not self._shutting_down:
            self._cancel_timers()
            self._unset_keepalive_if_required()
            self._linger = Linger(self._socket, self.loop, self.limits.linger)
            self.slots.mark_lingering(self)
            self._linger.start()
        else:
            self._socket.close()

    def _give_back_slot(self) -> None:
        if self._holds_slot:
            self._holds_slot = False
            self.slots.release(self)
