"""The app's one request pipeline: every middleware applies to every route, hot ones included.

Starlette's stack is ServerError -> user middleware -> Exception -> router. corebound puts
its request metrics outermost and its hot routes innermost of the user middleware, so
anything added to the app (auth, CORS, GZip, tracing) runs for every request and is counted:

    ServerError -> RequestMetrics -> [middleware added to the app] -> HotRoutes -> Exception
    -> router

`HotRoutes` answers a few routes (predict, infer, probes) itself: through FastAPI a predict
request also crosses the exception and exit-stack middlewares, the router's matching of every
route and the dependency solver, about half of the event loop's CPU per request
(reports/benchmark.md). It calls their endpoints with the app's own exception handlers and
hands every other request on unchanged. The routes stay declared on FastAPI, so the OpenAPI
docs do not change. `CoreboundAPI` refuses to start when a middleware would sit inside
`HotRoutes` (and so be skipped by the hot routes), and `HotRoutes` refuses a route whose
endpoint needs anything FastAPI resolves (query, body, dependencies).

`RequestMetrics` (service/web/request_metrics.py) is the one place requests are counted.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.web.request_metrics import RequestMetrics

# Starlette's exception handler: (request, exc) -> Response, or an awaitable of one.
Handler = Callable[[Request, Exception], Any]


class CoreboundAPI(FastAPI):
    """FastAPI whose hot routes skip its per-request layers but no middleware of the app's."""

    def build_middleware_stack(self) -> ASGIApp:
        # The list runs from outermost to innermost (Starlette inserts each added one first).
        # The request metrics go outermost: a request answered by any middleware counts too.
        self.user_middleware.sort(key=lambda m: m.cls is not RequestMetrics)
        inner: list[Any] = [m.cls for m in self.user_middleware]
        if HotRoutes in inner and inner[-1] is not HotRoutes:
            skipped = [getattr(c, "__name__", str(c)) for c in inner[inner.index(HotRoutes) + 1 :]]
            raise RuntimeError(
                f"middleware {skipped} was added before HotRoutes and would not run for the"
                " hot routes: add middleware after create_app()"
            )
        return super().build_middleware_stack()


@dataclass(frozen=True)
class HotRoute:
    route: APIRoute  # left in the scope as the router leaves it (the metrics' `handler`)
    pattern: re.Pattern[str] | None  # None: an exact path
    endpoint: Callable[..., Awaitable[Response]]


def _hot_route(route: APIRoute) -> HotRoute:
    d = route.dependant
    extra = d.query_params or d.header_params or d.cookie_params or d.body_params
    injected = (
        d.http_connection_param_name
        or d.websocket_param_name
        or d.response_param_name
        or d.background_tasks_param_name
        or d.security_scopes_param_name
    )
    plain = inspect.iscoroutinefunction(route.endpoint) and d.request_param_name == "request"
    if extra or injected or d.dependencies or not plain:
        raise RuntimeError(
            f"hot route {route.path} must be an async def taking only `request: Request`"
            " and path parameters"
        )
    pattern = route.path_regex if d.path_params else None
    return HotRoute(route, pattern, route.endpoint)


def _api_routes(api: FastAPI) -> list[APIRoute]:
    # FastAPI keeps an included router's routes behind route contexts; each names its route.
    found = []
    for route in api.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if callable(contexts) else [route]:
            api_route = getattr(context, "original_route", context)
            if isinstance(api_route, APIRoute):
                found.append(api_route)
    return found


class HotRoutes:
    """The innermost middleware: answers the hot routes, hands everything else on."""

    def __init__(self, app: ASGIApp, api: FastAPI, hot: AbstractSet[tuple[str, str]]) -> None:
        self.app = app
        self.api = api
        self.in_flight = 0  # requests inside the app right now (any server, any route)
        self._exact: dict[tuple[str, str], HotRoute] = {}
        self._patterned: dict[str, list[HotRoute]] = {}
        found: set[tuple[str, str]] = set()
        for route in _api_routes(api):
            for method in route.methods or ():
                if (method, route.path) not in hot:
                    continue
                hot_route = _hot_route(route)
                if hot_route.pattern is None:
                    self._exact[(method, route.path)] = hot_route
                else:
                    self._patterned.setdefault(method, []).append(hot_route)
                found.add((method, route.path))
        if found != hot:
            raise RuntimeError(f"hot routes: no such routes {sorted(hot - found)}")
        api.state.hot_routes = self

    def _match(self, scope: Scope) -> tuple[HotRoute, dict[str, str]] | None:
        if scope.get("root_path"):  # mounted or proxied under a prefix: FastAPI's matching
            return None
        method, path = scope["method"], scope["path"]
        hot = self._exact.get((method, path))
        if hot is not None:
            return hot, {}
        for hot in self._patterned.get(method, ()):
            assert hot.pattern is not None
            m = hot.pattern.match(path)
            if m:
                return hot, m.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            hit = self._match(scope)
            if hit is None:
                await self.app(scope, receive, send)
            else:
                await self._answer(hit[0], hit[1], scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _answer(
        self, hot: HotRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["route"] = hot.route
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await hot.endpoint(request=request, **params)
        except Exception as exc:
            # What Starlette's ExceptionMiddleware (and ServerError's handler) would answer.
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)
            if handler is self._unexpected_handler():
                raise  # as Starlette's ServerErrorMiddleware: the server logs it once
            return
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        # Starlette's lookup: an HTTPException's status code first, then the class hierarchy.
        handlers: dict[Any, Handler] = dict(self.api.exception_handlers)
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None

    def _unexpected_handler(self) -> Handler | None:
        handlers: dict[Any, Handler] = dict(self.api.exception_handlers)
        return handlers.get(Exception) or handlers.get(500)
