"""The one place requests are counted: `http_requests_total`, `http_request_duration_seconds`.

prometheus-fastapi-instrumentator's metric functions (service/metrics.py) with its labels:
`handler` is the route template (`/v2/models/{model_name}/infer`) or `none` when no route
matched, `method`, and `status` grouped as `2xx`..`5xx`. Its own middleware would match every
request against all routes again to find the template; the router and the pipeline's
HotRoutes already leave the matched route in the scope. Probes and scrapes are not counted.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_fastapi_instrumentator.metrics import Info
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics

# Probes and scrapes would drown the traffic.
QUIET = frozenset(["/metrics", "/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"])


class RequestMetrics:
    """Outermost of the app's middleware (service/web/pipeline.py), so every answer counts."""

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
                info = Info(
                    Request(scope),
                    None,
                    scope["method"],
                    handler,
                    f"{status // 100}xx",
                    time.perf_counter() - started,
                )
                metrics.HTTP_REQUESTS(info)
                metrics.HTTP_SECONDS(info)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v2/models/{model_name}/infer`), else `none`."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "none"
