"""A worker's connection cap (gunicorn's `worker_connections`), kept the way nginx keeps its.

Without a cap, a client opening thousands of idle connections costs each worker memory and
file descriptors until the header timeout closes them, and gets them back at once. At the
cap, the connection that has been idle longest (one lingering after a refusal first, then
one waiting for the first byte of a request, new or kept alive) is closed to make room, as
nginx does when its worker_connections run out (ngx_drain_connections): an idle connection
costs its client nothing to reopen, and the newcomer is served. Only when every connection
is in the middle of a request is the newcomer refused: 503, Retry-After, close.

A connection is never closed for room before the event loop has polled its socket once
since it became idle: libuv accepts connections in a loop while any is pending, so one burst
can bring more than the cap at once, and closing the first of them before their requests are
read would reset clients that did nothing wrong. Past that, the newcomer gets the 503.

uvicorn's own `limit_concurrency` is not used: it keeps every idle connection and answers
503 to each request that arrives once the count is reached, the other clients' included.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Protocol

# Descriptors a worker holds besides its connections: the listening socket, the event loop's,
# the model and metrics files, the inference thread's, logging (about 40 when measured).
FD_RESERVE = 128
LOG_EVERY_S = 10.0

logger = logging.getLogger("corebound")


class Reclaimable(Protocol):
    loop: asyncio.AbstractEventLoop
    idle_epoch: int  # the slots' epoch when it became idle

    def reclaim(self) -> None:
        """Close now, giving the slot back (the slots' `release`) before returning."""


class ConnectionSlots:
    """One worker's connections: at most `cap`, each idle or lingering one in arrival order.

    A dict keeps insertion order: the first key is the longest idle, and moving a connection
    to the end is a delete and an insert, so every step is O(1).
    """

    def __init__(self, cap: int, count: Callable[[str], None] | None = None) -> None:
        self.cap = cap
        self.held = 0
        self.idle: dict[Reclaimable, None] = {}
        self.lingering: dict[Reclaimable, None] = {}
        self._count = count or (lambda reason: None)
        self._reclaimed = self._refused = 0
        self._logged_at = time.monotonic()
        # Advanced once per loop iteration for two iterations after a connection became idle:
        # two steps mean one whole poll of the sockets since (see _reclaim_one and mark_idle).
        self.epoch = 0
        self._ticks_left = 0

    def take(self) -> bool:
        """A slot for a new connection, closing an idle one for it at the cap; False: refuse."""
        if self.held >= self.cap and not self._reclaim_one():
            self._refused += 1
            self._count("refused_at_cap")
            self._log_pressure()
            return False
        self.held += 1
        return True

    def release(self, conn: Reclaimable) -> None:
        self.held -= 1
        self.idle.pop(conn, None)
        self.lingering.pop(conn, None)

    def mark_idle(self, conn: Reclaimable) -> None:
        self.idle.pop(conn, None)
        self.idle[conn] = None
        conn.idle_epoch = self.epoch
        # Only a worker near its cap closes connections for room: below half of it the epoch
        # may stand still (a connection idle since then is just older than it looks).
        if 2 * self.held >= self.cap:
            if not self._ticks_left:
                conn.loop.call_soon(self._tick, conn.loop)
            self._ticks_left = 2

    def mark_busy(self, conn: Reclaimable) -> None:
        self.idle.pop(conn, None)

    def mark_lingering(self, conn: Reclaimable) -> None:
        self.idle.pop(conn, None)
        self.lingering[conn] = None

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        # A callback scheduled from a callback runs in the next iteration, after its poll.
        self.epoch += 1
        self._ticks_left -= 1
        if self._ticks_left:
            loop.call_soon(self._tick, loop)

    def _reclaim_one(self) -> bool:
        if self.lingering:
            next(iter(self.lingering)).reclaim()
            reason = "lingering_for_room"
        elif self.idle and next(iter(self.idle)).idle_epoch <= self.epoch - 2:
            next(iter(self.idle)).reclaim()  # the longest idle; the rest became idle later
            reason = "idle_for_room"
        else:
            return False
        self._reclaimed += 1
        self._count(reason)
        self._log_pressure()
        return True

    def _log_pressure(self) -> None:
        # One line per interval, as nginx's "worker_connections are not enough" is.
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            logger.warning(
                "%d connections open, the cap (MAX_CONNECTIONS_PER_WORKER): closed %d idle"
                " ones for new ones, refused %d in the last %.0f s",
                self.held, self._reclaimed, self._refused, now - self._logged_at,
            )  # fmt: skip
            self._reclaimed = self._refused = 0
            self._logged_at = now


def raise_fd_limit() -> int:
    """The soft open-file limit raised to the hard one (nginx's worker_rlimit_nofile does it by
    configuration, Go's runtime always): the soft one is often 1024. The limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # an unlimited hard limit above the kernel's nr_open
            pass
    return soft


def connection_cap(wanted: int, fd_limit: int) -> int:
    """At most `wanted`, and few enough that the worker cannot run out of descriptors: an
    accept failing with EMFILE would drop connections unanswered (uvloop) or pause accepting
    (asyncio), and so would the worker's own files."""
    if fd_limit == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, fd_limit - FD_RESERVE))
