"""404 and 405 under /v2 in the protocol's {"error": ...} shape (clients decode only that).

Routing errors never reach a route, so errors.py's InputError handler cannot shape them;
outside /v2 FastAPI's own {"detail": ...} answer is kept.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from service.web.responses import json_response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path != "/v2" and not path.startswith("/v2/"):
        return await http_exception_handler(request, exc)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = f"no such endpoint: {path} (see GET /v2 and /v2/models/{{name}})"
    elif exc.status_code == 405:
        allowed = headers.get("allow") or headers.get("Allow") or "?"
        message = f"method {request.method} is not allowed on {path}; use {allowed}"
    else:
        message = str(exc.detail)
    return json_response({"error": message}, exc.status_code, headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
