"""The gunicorn worker: uvicorn's, with the HTTP limits of service/server/limits.py, the
connection cap and lingering close of service/server/connections.py.

A subclass rather than settings because uvicorn has none for these limits with httptools;
uvloop and httptools stay (the fast path the benchmark measured).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

from service.server.connection_slots import ConnectionSlots, connection_cap, raise_fd_limit
from service.server.connections import CappedHttpToolsProtocol
from service.server.limits import HttpLimits, LimitedHttpToolsProtocol
from service.settings import load_settings


class CoreboundWorker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "auto",
        "http": "service.server.connections:CappedHttpToolsProtocol",
        # uvicorn's X-Forwarded-* rewriting is one more ASGI layer per request, for a client
        # address and scheme nothing here reads (no access log; gunicorn trusts only loopback).
        "proxy_headers": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The service's own lines (model loaded, client gone, model errors) go where gunicorn's
        # go, at its level, as uvicorn_worker does for uvicorn's loggers.
        logger = logging.getLogger("corebound")
        logger.handlers = self.log.error_log.handlers
        logger.setLevel(self.log.error_log.level)
        logger.propagate = False
        # The master validated the same environment; this process only reads it again.
        LimitedHttpToolsProtocol.limits = HttpLimits.from_settings(load_settings())

    def init_process(self) -> None:
        # In the worker, after the fork: its own descriptors and its own count of connections.
        # gunicorn's worker_connections (MAX_CONNECTIONS_PER_WORKER through gunicorn_conf).
        wanted = self.cfg.worker_connections
        fd_limit = raise_fd_limit()
        cap = connection_cap(wanted, fd_limit)
        if cap < wanted:
            self.log.warning(
                "MAX_CONNECTIONS_PER_WORKER=%d lowered to %d: the open-file limit is %d",
                wanted, cap, fd_limit,
            )  # fmt: skip
        from service.server.connection_metrics import count_closed  # prometheus: after the fork

        CappedHttpToolsProtocol.slots = ConnectionSlots(cap, count_closed)
        super().init_process()
