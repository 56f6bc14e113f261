"""The gunicorn worker: uvicorn's, with the HTTP limits of service/server/limits.py.

A subclass rather than settings because uvicorn has none for these limits with httptools;
uvloop and httptools stay (the fast path the benchmark measured).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

from service.server.limits import HttpLimits, LimitedHttpToolsProtocol
from service.settings import load_settings


class CoreboundWorker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "auto",
        "http": "service.server.limits:LimitedHttpToolsProtocol",
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
