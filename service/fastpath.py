"""The hot routes (predict, infer, probes) answered without FastAPI's per-request layers.

A predict request through FastAPI crosses about ten layers (telemetry checks, server-error,
body-limit, metrics, exception and exit-stack middleware, the router's matching of every
route, the dependency solver) around a handler that takes only the Request: measured at
about half of the event loop's CPU per request (reports/benchmark.md). `CoreboundAPI` sends
those few routes straight to their endpoints, with the same exception handlers and request
metrics; everything else (docs, metadata, `/metrics`, 404, 405) goes through FastAPI as
before, and the routes stay declared there, so the OpenAPI docs do not change.

A route qualifies only if its endpoint takes nothing but the Request and path parameters:
anything FastAPI would resolve for it (query, body, dependencies) makes start-up fail.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from service import http_metrics

# Starlette's exception handler: (request, exc) -> Response, or an awaitable of one.
Handler = Callable[[Request, Exception], Any]


@dataclass(frozen=True)
class FastRoute:
    template: str  # the route's path, the `handler` label
    pattern: re.Pattern[str] | None  # None: an exact path
    endpoint: Callable[..., Awaitable[Response]]
    quiet: bool  # probes: not counted in the request metrics


def _fast_route(route: APIRoute) -> FastRoute:
    d = route.dependant
    extra = d.query_params or d.header_params or d.cookie_params or d.body_params
    injected = d.response_param_name or d.background_tasks_param_name
    plain = inspect.iscoroutinefunction(route.endpoint) and d.request_param_name == "request"
    if extra or injected or d.dependencies or not plain:
        raise RuntimeError(
            f"fast path: {route.path} must be an async def taking only `request: Request`"
            " and path parameters"
        )
    params = {p.name for p in d.path_params}
    pattern = None if not params else route.path_regex
    template = route.path
    return FastRoute(template, pattern, route.endpoint, template in http_metrics.QUIET)


class CoreboundAPI(FastAPI):
    """FastAPI with a table of hot routes it answers itself (see the module's docstring)."""

    _exact: dict[tuple[str, str], FastRoute]
    _patterned: dict[str, list[FastRoute]]

    def enable_fast_path(self, hot: set[tuple[str, str]]) -> None:
        """`hot`: (method, path template) pairs of routes declared on this app."""
        self._exact, self._patterned = {}, {}
        found: set[tuple[str, str]] = set()
        for route in self.routes:
            contexts = getattr(route, "effective_route_contexts", None)
            for context in contexts() if callable(contexts) else [route]:
                api_route = getattr(context, "original_route", context)
                if not isinstance(api_route, APIRoute):
                    continue
                for method in api_route.methods or ():
                    if (method, api_route.path) not in hot:
                        continue
                    fast = _fast_route(api_route)
                    if fast.pattern is None:
                        self._exact[(method, api_route.path)] = fast
                    else:
                        self._patterned.setdefault(method, []).append(fast)
                    found.add((method, api_route.path))
        if found != hot:
            raise RuntimeError(f"fast path: no such routes {sorted(hot - found)}")

    def _match(self, scope: Scope) -> tuple[FastRoute, dict[str, str]] | None:
        if scope.get("root_path"):  # mounted or proxied under a prefix: FastAPI's matching
            return None
        method, path = scope["method"], scope["path"]
        fast = self._exact.get((method, path))
        if fast is not None:
            return fast, {}
        for fast in self._patterned.get(method, ()):
            assert fast.pattern is not None
            m = fast.pattern.match(path)
            if m:
                return fast, m.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hit = self._match(scope) if scope["type"] == "http" and hasattr(self, "_exact") else None
        if hit is None:
            await super().__call__(scope, receive, send)
            return
        fast, params = hit
        started = time.perf_counter()
        scope["app"] = self
        scope["path_params"] = params
        request = Request(scope, receive, send)
        status = 500
        try:
            try:
                response = await fast.endpoint(request=request, **params)
            except Exception as exc:
                handler = self._handler_for(exc)
                if handler is None:
                    raise
                answer = handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
                status = response.status_code
                await response(scope, receive, send)
                if handler is self._unexpected_handler():
                    raise  # as Starlette's ServerErrorMiddleware: the server logs it once
                return
            status = response.status_code
            await response(scope, receive, send)
        finally:
            if not fast.quiet:
                http_metrics.record(
                    fast.template, scope["method"], status, time.perf_counter() - started
                )

    def _handler_for(self, exc: Exception) -> Handler | None:
        handlers: dict[Any, Handler] = dict(self.exception_handlers)
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None

    def _unexpected_handler(self) -> Handler | None:
        handlers: dict[Any, Handler] = dict(self.exception_handlers)
        return handlers.get(Exception) or handlers.get(500)
