"""The connection cap's counter, imported by the worker after the fork (multiprocess files are
per process; the master never counts)."""

from __future__ import annotations

from prometheus_client import Counter

CONNECTIONS_CLOSED = Counter(
    "corebound_connections_closed_total",
    "Connections the worker closed at its cap (MAX_CONNECTIONS_PER_WORKER): idle_for_room,"
    " lingering_for_room (to make room), refused_at_cap (503 to a newcomer).",
    ["reason"],
)


def count_closed(reason: str) -> None:
    CONNECTIONS_CLOSED.labels(reason).inc()
