"""`http_requests_total` and `http_request_duration_seconds`, as a plain ASGI middleware.

The labels are prometheus-fastapi-instrumentator's: `handler` is the route template
(`/v2/models/{model_name}/infer`) or `none` when no route matched, `method`, and `status`
grouped as `2xx`..`5xx`. Probes and `/metrics` are not counted. The route template comes
from the router itself (it leaves the matched route in the scope), so nothing is matched twice.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics

QUIET = frozenset(["/metrics", "/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"])

# (handler, method, status) -> the metric children: `labels()` takes a lock and builds a key
# on every call; the label sets are few (routes x methods x 5).
_children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def record(handler: str, method: str, status: int, seconds: float) -> None:
    """Counts one request (callers skip QUIET handlers)."""
    key = (handler, method, f"{status // 100}xx")
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            metrics.HTTP_REQUESTS.labels(*key),
            metrics.HTTP_SECONDS.labels(*key),
        )
    children[0].inc()
    children[1].observe(seconds)


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "none"


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            handler = route_template(scope)
            if handler not in QUIET:
                record(handler, scope["method"], status, time.perf_counter() - started)
