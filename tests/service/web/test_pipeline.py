"""The hot routes' fast path answers exactly as FastAPI's full stack answers the same routes."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Receive, Scope, Send

from service.app import HOT_ROUTES, create_app
from service.settings import DEFAULT_MODEL_DIR, Settings
from service.web.pipeline import CoreboundAPI, HotRoutes

DIM = 64
Clients = tuple[TestClient, TestClient]
MODEL = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
NAME, VERSION = MODEL["name"], str(MODEL["version"])
# numpy: two apps, identical outputs (ONNX Runtime's path per batch size is calibrated per load).
SETTINGS = Settings(
    max_rows_per_request=32, max_queue_rows=64, max_body_bytes=64 * 1024, model_runtime="numpy"
)


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    """The app, and the same app with every request on FastAPI's own path."""
    with (
        TestClient(create_app(SETTINGS)) as fast,
        TestClient(create_app(SETTINGS, hot_routes=frozenset())) as slow,
    ):
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


def test_every_hot_route_is_served_by_the_hot_routes(clients: Clients) -> None:
    fast, _ = clients
    hot: HotRoutes = fast.app.state.hot_routes  # type: ignore[attr-defined]
    for method, template in HOT_ROUTES:
        path = template.format(model_name=NAME, model_version=VERSION)
        assert hot._match({"method": method, "path": path, "root_path": ""}) is not None
    assert hot._match({"method": "GET", "path": "/info", "root_path": ""}) is None
    assert hot._match({"method": "GET", "path": "/v1/predict", "root_path": ""}) is None


@pytest.mark.parametrize(("method", "path", "kwargs"), _cases())
def test_hot_routes_answer_as_fastapi_does(
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


def _handler_app(endpoint: Any, hot: set[tuple[str, str]] | None = None) -> CoreboundAPI:
    app = CoreboundAPI()
    app.add_api_route("/x", endpoint, methods=["GET"])
    app.add_middleware(HotRoutes, api=app, hot=hot or {("GET", "/x")})
    return app


def test_a_route_needing_fastapi_resolution_refuses_start_up() -> None:
    async def with_query(request: Request, limit: int = 3) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="must be an async def taking only"):
        _handler_app(with_query).build_middleware_stack()


def test_a_sync_route_refuses_start_up() -> None:
    def sync(request: Request) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="must be an async def"):
        _handler_app(sync).build_middleware_stack()


def test_an_unknown_hot_route_refuses_start_up() -> None:
    async def fine(request: Request) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="no such routes"):
        _handler_app(fine, {("GET", "/y")}).build_middleware_stack()


def test_an_unexpected_error_is_json_500_and_still_raised() -> None:
    async def broken(request: Request) -> Response:
        raise ZeroDivisionError("boom")

    async def unexpected(request: Request, exc: Exception) -> Response:
        return Response(b'{"detail":"internal"}', 500, media_type="application/json")

    app = _handler_app(broken)
    app.add_exception_handler(Exception, unexpected)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/x")
    assert response.status_code == 500 and response.json() == {"detail": "internal"}
    with TestClient(app) as client, pytest.raises(ZeroDivisionError):
        client.get("/x")


class RequireToken:
    """An auth middleware as a user would add one: 401 without the right bearer token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
            if (b"authorization", b"Bearer s3cret") not in scope["headers"]:
                await JSONResponse({"detail": "no token"}, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def test_middleware_added_to_the_app_applies_to_every_route_hot_ones_included() -> None:
    app = create_app(SETTINGS)
    app.add_middleware(RequireToken)
    row = [1.0] * DIM
    tensor = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": row}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/predict", {"json": {"inputs": [row]}}),
        ("POST", f"/v2/models/{NAME}/infer", {"json": {"inputs": [tensor]}}),
        ("GET", "/healthz", {}),
        ("GET", "/v2/health/ready", {}),
        ("GET", "/info", {}),
    ]
    before = REGISTRY.get_sample_value(
        "http_requests_total", {"handler": "none", "method": "POST", "status": "4xx"}
    )
    with TestClient(app) as client:
        for method, path, kwargs in calls:
            refused = client.request(method, path, **kwargs)
            assert refused.status_code == 401, path
            allowed = client.request(
                method, path, headers={"Authorization": "Bearer s3cret"}, **kwargs
            )
            assert allowed.status_code == 200, path
    after = REGISTRY.get_sample_value(
        "http_requests_total", {"handler": "none", "method": "POST", "status": "4xx"}
    )
    # The middleware's own 401s are counted too: the request metrics are outermost.
    assert (after or 0) - (before or 0) == 2


def test_middleware_that_would_sit_inside_the_hot_routes_refuses_start_up() -> None:
    async def fine(request: Request) -> Response:
        return Response()

    app = CoreboundAPI()
    app.add_api_route("/x", fine, methods=["GET"])
    app.add_middleware(RequireToken)  # added before HotRoutes: inside it, skipped by /x
    app.add_middleware(HotRoutes, api=app, hot={("GET", "/x")})
    with pytest.raises(RuntimeError, match=r"\['RequireToken'\] was added before HotRoutes"):
        app.build_middleware_stack()


def test_the_app_counts_the_requests_inside_it_under_any_server(clients: Clients) -> None:
    fast, _ = clients
    hot: HotRoutes = fast.app.state.hot_routes  # type: ignore[attr-defined]
    assert hot.in_flight == 0
    assert fast.get("/healthz").status_code == 200
    assert hot.in_flight == 0  # entered and left


def test_rows_survive_the_hot_routes_unchanged(clients: Clients) -> None:
    fast, slow = clients
    rows = np.linspace(-3, 3, DIM * 3, dtype=np.float32).reshape(3, DIM).tolist()
    got = fast.post("/v1/predict", json={"inputs": rows}).json()
    expected = slow.post("/v1/predict", json={"inputs": rows}).json()
    assert got == expected


def test_an_http_exception_finds_its_handler_by_status_code_as_in_starlette() -> None:
    async def teapot(request: Request) -> Response:
        raise HTTPException(418, "short and stout")

    async def by_status(request: Request, exc: Exception) -> Response:
        return JSONResponse({"status_handler": True}, 418)

    app = _handler_app(teapot)
    app.add_exception_handler(418, by_status)
    with TestClient(app) as client:
        response = client.get("/x")
    assert response.status_code == 418 and response.json() == {"status_handler": True}
