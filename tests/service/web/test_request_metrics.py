"""The request metrics: instrumentator's names and labels, on the fast path and through FastAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from service.app import create_app
from service.settings import DEFAULT_MODEL_DIR, Settings

DIM = 64
NAME = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())["name"]
INFER = "/v2/models/{model_name}/infer"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(max_rows_per_request=32, max_queue_rows=64, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def count(handler: str, method: str, status: str) -> float:
    labels = {"handler": handler, "method": method, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def observed(handler: str, method: str, status: str) -> float:
    labels = {"handler": handler, "method": method, "status": status}
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0.0


def test_each_request_counts_once_under_its_route_template(client: TestClient) -> None:
    tensor = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": [1.0] * DIM}
    cases: list[tuple[str, str, dict[str, Any], str, str]] = [
        ("POST", "/v1/predict", {"json": {"inputs": [[1.0] * DIM]}}, "/v1/predict", "2xx"),
        ("POST", "/v1/predict", {"json": {"inputs": [[1.0]]}}, "/v1/predict", "4xx"),
        ("POST", f"/v2/models/{NAME}/infer", {"json": {"inputs": [tensor]}}, INFER, "2xx"),
        ("POST", "/v2/models/other/infer", {"json": {"inputs": [tensor]}}, INFER, "4xx"),
        ("GET", "/info", {}, "/info", "2xx"),
        ("GET", "/v2/models/other", {}, "/v2/models/{model_name}", "4xx"),
        ("GET", "/no/such/path", {}, "none", "4xx"),
    ]
    for method, path, kwargs, handler, status in cases:
        before = count(handler, method, status), observed(handler, method, status)
        client.request(method, path, **kwargs)
        after = count(handler, method, status), observed(handler, method, status)
        assert after == (before[0] + 1, before[1] + 1), (method, path)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v2/health/live", "/metrics"])
def test_probes_and_scrapes_are_not_counted(client: TestClient, path: str) -> None:
    before = count(path, "GET", "2xx")
    assert client.get(path).status_code == 200
    assert count(path, "GET", "2xx") == before == 0


def test_metrics_text_names_both_metrics(client: TestClient) -> None:
    client.post("/v1/predict", json={"inputs": [[1.0] * DIM]})
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/v1/predict",method="POST",status="2xx"}' in text
    assert (
        'http_request_duration_seconds_bucket{handler="/v1/predict",le="0.005",'
        'method="POST",status="2xx"}' in text
    )
