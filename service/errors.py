"""Every refusal becomes a clear 4xx/503/504 in the shape the route's protocol expects."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from service.codec import InputError, json_response
from service.engine import DeadlineExceeded, Overloaded


def _error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    # The Open Inference Protocol says {"error": ...}; FastAPI's own convention is {"detail": ...}.
    key = "error" if request.url.path.startswith("/v2") else "detail"
    return json_response({key: message}, status, headers)


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return _error(request, exc.status, exc.message)


async def _overloaded(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Overloaded)
    return _error(request, 503, str(exc), {"Retry-After": str(exc.retry_after_s)})


async def _deadline(request: Request, exc: Exception) -> Response:
    return _error(request, 504, str(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(DeadlineExceeded, _deadline)
