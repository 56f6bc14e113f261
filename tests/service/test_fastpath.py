"""The hot routes' fast path answers exactly as FastAPI's full stack answers the same routes."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.app import HOT_ROUTES, create_app
from service.fastpath import CoreboundAPI
from service.settings import DEFAULT_MODEL_DIR, Settings

DIM = 64
Clients = tuple[TestClient, TestClient]
MODEL = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
NAME, VERSION = MODEL["name"], str(MODEL["version"])
SETTINGS = Settings(max_rows_per_request=32, max_queue_rows=64, max_body_bytes=64 * 1024)


class ThroughFastAPI:
    """The same app instance, but every request takes FastAPI's own path."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(self.app, scope, receive, send)


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(SETTINGS)
    with TestClient(app) as fast:
        slow = TestClient(ThroughFastAPI(app))
        yield fast, slow


def _binary_infer() -> tuple[bytes, dict[str, str]]:
    header = (
        b'{"id":"b","inputs":[{"name":"input-0","shape":[1,64],"datatype":"FP32",'
        b'"parameters":{"binary_data_size":256}}],"parameters":{"binary_data_output":true}}'
    )
    raw = struct.pack("<64f", *([2.0] * DIM))
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    row = [3.0] * DIM
    tensor = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": row}
    binary, binary_headers = _binary_infer()
    return [
        ("POST", "/v1/predict", {"json": {"inputs": [row]}}),
        ("POST", "/v1/predict", {"content": b"{not json", "headers": _json()}),
        ("POST", "/v1/predict", {"content": b'{"inputs": [[1]]}', "headers": _json()}),
        ("POST", "/v1/predict", {"json": {"inputs": [row], "extra": 1}}),
        ("POST", "/v1/predict", {"content": b"x", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/v1/predict", {"content": b"[" * 200, "headers": _json()}),
        ("POST", f"/v2/models/{NAME}/infer", {"json": {"id": "a", "inputs": [tensor]}}),
        ("POST", "/v2/models/nope/infer", {"json": {"inputs": [tensor]}}),
        ("POST", f"/v2/models/{NAME}/versions/9/infer", {"json": {"inputs": [tensor]}}),
        (
            "POST",
            f"/v2/models/{NAME}/versions/{VERSION}/infer",
            {"json": {"id": "v", "inputs": [tensor]}},
        ),
        ("POST", f"/v2/models/{NAME}/infer", {"content": binary, "headers": binary_headers}),
        ("POST", f"/v2/models/{NAME}/infer", {"content": b"{}", "headers": _json()}),
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/v2/health/live", {}),
        ("GET", "/v2/health/ready", {}),
    ]


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _comparable(response: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    body = response.content
    if response.headers.get("content-type", "").startswith("application/json"):
        parsed = response.json()
        if isinstance(parsed, dict) and "heartbeat_age_s" in parsed:
            parsed["heartbeat_age_s"] = None  # the inference thread's clock
        body = repr(parsed).encode()
    return response.status_code, headers, body


def test_every_hot_route_is_served_by_the_fast_path(clients: Clients) -> None:
    fast, _ = clients
    app = fast.app
    assert isinstance(app, CoreboundAPI)
    for method, template in HOT_ROUTES:
        path = template.format(model_name=NAME, model_version=VERSION)
        assert app._match({"method": method, "path": path, "root_path": ""}) is not None
    assert app._match({"method": "GET", "path": "/info", "root_path": ""}) is None
    assert app._match({"method": "GET", "path": "/v1/predict", "root_path": ""}) is None


@pytest.mark.parametrize(("method", "path", "kwargs"), _cases())
def test_fast_path_answers_as_fastapi_does(
    clients: Clients, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    fast, slow = clients
    got = fast.request(method, path, **kwargs)
    expected = slow.request(method, path, **kwargs)
    assert _comparable(got) == _comparable(expected)


def test_other_methods_on_hot_paths_go_through_fastapi(clients: Clients) -> None:
    fast, _ = clients
    wrong = fast.get(f"/v2/models/{NAME}/versions/{VERSION}/infer")
    assert wrong.status_code == 405 and "error" in wrong.json()
    assert fast.get("/v1/predict").status_code == 405


def _handler_app(endpoint: Any) -> CoreboundAPI:
    app = CoreboundAPI()
    app.add_api_route("/x", endpoint, methods=["GET"])
    return app


def test_a_route_needing_fastapi_resolution_refuses_start_up() -> None:
    async def with_query(request: Request, limit: int = 3) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="must be an async def taking only"):
        _handler_app(with_query).enable_fast_path({("GET", "/x")})


def test_a_sync_route_refuses_start_up() -> None:
    def sync(request: Request) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="must be an async def"):
        _handler_app(sync).enable_fast_path({("GET", "/x")})


def test_an_unknown_hot_route_refuses_start_up() -> None:
    async def fine(request: Request) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="no such routes"):
        _handler_app(fine).enable_fast_path({("GET", "/y")})


def test_an_unexpected_error_is_json_500_and_still_raised() -> None:
    async def broken(request: Request) -> Response:
        raise ZeroDivisionError("boom")

    async def unexpected(request: Request, exc: Exception) -> Response:
        return Response(b'{"detail":"internal"}', 500, media_type="application/json")

    app = _handler_app(broken)
    app.add_exception_handler(Exception, unexpected)
    app.enable_fast_path({("GET", "/x")})
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/x")
    assert response.status_code == 500 and response.json() == {"detail": "internal"}
    with TestClient(app) as client, pytest.raises(ZeroDivisionError):
        client.get("/x")


def test_rows_survive_the_fast_path_unchanged(clients: Clients) -> None:
    fast, slow = clients
    rows = np.linspace(-3, 3, DIM * 3, dtype=np.float32).reshape(3, DIM).tolist()
    got = fast.post("/v1/predict", json={"inputs": rows}).json()
    expected = slow.post("/v1/predict", json={"inputs": rows}).json()
    assert got == expected
