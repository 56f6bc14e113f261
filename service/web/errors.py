"""Every refusal or failure becomes JSON in the shape the route's protocol expects.

Protocol-neutral exceptions (codec's InputError, the engine's Overloaded, DeadlineExceeded
and ModelError) are mapped to a status here, so no route hand-builds an error response.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response

from service import metrics
from service.inference.engine import DeadlineExceeded, ModelError, Overloaded
from service.protocol.errors import InputError
from service.web.body import ClientGone
from service.web.responses import json_response

log = logging.getLogger("corebound")


def _error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    # The Open Inference Protocol says {"error": ...}; FastAPI's own convention is {"detail": ...}.
    key = "error" if request.url.path.startswith("/v2") else "detail"
    return json_response({key: message}, status, headers)


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return _error(request, exc.status, exc.message, exc.headers)


async def _overloaded(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Overloaded)
    return _error(request, 503, str(exc), {"Retry-After": str(exc.retry_after_s)})


async def _deadline(request: Request, exc: Exception) -> Response:
    return _error(request, 504, str(exc))


async def _model_error(request: Request, exc: Exception) -> Response:
    # One line with the model's own traceback (the cause), not the event loop's frames.
    log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc.__cause__)
    return _error(request, 500, str(exc))


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Not a server error: no traceback, no 5xx. 499 is nginx's "client closed request"; nobody
    # receives it, but the request metrics count it as the client's doing.
    metrics.CLIENT_GONE.inc()
    log.info("%s %s: %s", request.method, request.url.path, exc)
    return Response(status_code=499)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette would answer text/plain "Internal Server Error"; clients parse JSON. No log
    # here: Starlette re-raises after this response and the server logs the traceback once.
    return _error(request, 500, f"internal error: {type(exc).__name__}")


def install(app: FastAPI) -> None:
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(DeadlineExceeded, _deadline)
    app.add_exception_handler(ModelError, _model_error)
    app.add_exception_handler(ClientGone, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
