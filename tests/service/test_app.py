"""The app in process (lifespan runs): endpoints, protocol shapes and every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

DIM = 64


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(max_rows_per_request=32, max_queue_rows=64, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings)) as c:
        yield c


def row(value: float = 3.0) -> list[float]:
    return [value] * DIM


def test_predict_returns_probabilities_and_labels(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"inputs": [row(), row(0.0)]})
    assert response.status_code == 200
    body = response.json()
    assert len(body["outputs"]) == 2 and len(body["outputs"][0]) == 10
    assert np.allclose(np.sum(body["outputs"], axis=1), 1.0, atol=1e-4)
    assert body["labels"] == [str(int(np.argmax(o))) for o in body["outputs"]]


def test_v2_infer_matches_v1(client: TestClient) -> None:
    v1 = client.post("/v1/predict", json={"inputs": [row(5.0)]}).json()
    request = {
        "id": "r1",
        "inputs": [{"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": row(5.0)}],
    }
    response = client.post("/v2/models/digits-mlp/infer", json=request)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "r1" and body["model_name"] == "digits-mlp"
    probs, label = body["outputs"]
    assert probs["shape"] == [1, 10] and probs["datatype"] == "FP32"
    assert np.allclose(probs["data"], v1["outputs"][0], atol=1e-6)
    assert label == {"name": "label", "shape": [1], "datatype": "BYTES", "data": v1["labels"]}


def test_v2_nested_data_and_output_selection(client: TestClient) -> None:
    request = {
        "inputs": [
            {"name": "input-0", "shape": [2, DIM], "datatype": "FP32", "data": [row(), row()]}
        ],
        "outputs": [{"name": "label"}],
    }
    body = client.post("/v2/models/digits-mlp/infer", json=request).json()
    assert [o["name"] for o in body["outputs"]] == ["label"] and body["outputs"][0]["shape"] == [2]


def test_v2_metadata_and_health(client: TestClient) -> None:
    meta = client.get("/v2/models/digits-mlp").json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, DIM]}]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/digits-mlp/ready").json()["ready"] is True
    assert client.get("/v2").json()["name"] == "corebound"
    missing = client.get("/v2/models/other")
    assert missing.status_code == 404 and "digits-mlp" in missing.json()["error"]


def test_probes_and_info(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"ready": True}
    info = client.get("/info").json()
    assert info["model"]["name"] == "digits-mlp" and info["model"]["input_dim"] == DIM
    assert info["plan"]["workers"] >= 1 and info["plan"]["threads"] >= 1
    assert info["batching"]["max_rows_per_request"] == 32


def test_metrics_count_batches(client: TestClient) -> None:
    client.post("/v1/predict", json={"inputs": [row()]})
    text = client.get("/metrics").text
    assert "corebound_batch_rows_count" in text and 'handler="/v1/predict"' in text


def test_openapi_describes_the_model_width(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    predict = schema["components"]["schemas"]["PredictRequest"]
    assert predict["properties"]["inputs"]["items"]["minItems"] == DIM
    assert "/v2/models/{model_name}/infer" in schema["paths"]


LONG_ROW = [*row(), 1.0]
BAD_V1 = [
    # (body bytes, content type, status, words the message must contain)
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b'{"inputs": [[NaN]]}', "application/json", 400, "NaN and Infinity"),
    (json.dumps({"inputs": [row()]}).encode(), "text/plain", 415, "Content-Type"),
    (json.dumps({"inputs": [row()]}).encode(), "", 415, "Content-Type"),
    (json.dumps([row()]).encode(), "application/json", 422, "JSON object"),
    (json.dumps({"input": [row()]}).encode(), "application/json", 422, "unknown field"),
    (json.dumps({}).encode(), "application/json", 422, "missing field 'inputs'"),
    (json.dumps({"inputs": []}).encode(), "application/json", 422, "empty"),
    (json.dumps({"inputs": row()}).encode(), "application/json", 422, "wrap a single row"),
    (
        json.dumps({"inputs": [LONG_ROW]}).encode(),
        "application/json",
        422,
        "must have 64 numbers, got 65",
    ),
    (json.dumps({"inputs": [row(), row()[:10]]}).encode(), "application/json", 422, "ragged"),
    (json.dumps({"inputs": [["a"] * DIM]}).encode(), "application/json", 422, "strings"),
    (json.dumps({"inputs": [[None] * DIM]}).encode(), "application/json", 422, "nulls"),
    (json.dumps({"inputs": [[True] * DIM]}).encode(), "application/json", 422, "booleans"),
    (json.dumps({"inputs": [[*row()[:-1], True]]}).encode(), "application/json", 422, "booleans"),
    (
        json.dumps({"inputs": [[*row()[:-1], 1e39]]}).encode(),
        "application/json",
        422,
        "finite float32",
    ),
    (
        json.dumps({"inputs": [[*row()[:-1], 1e400]]}).encode(),
        "application/json",
        400,
        "not valid JSON",
    ),
    (json.dumps({"inputs": [[[1.0] * DIM]]}).encode(), "application/json", 422, "nesting"),
    (json.dumps({"inputs": [row()] * 33}).encode(), "application/json", 422, "at most 32"),
    # Deep nesting is refused before parsing: more lists than rows allow (was orjson's 400).
    (b"[" * 5000 + b"]" * 5000, "application/json", 413, "JSON lists/objects"),
    (
        json.dumps({"inputs": [row(123456.0)] * 30, "pad": "x" * 70000}).encode(),
        "application/json",
        413,
        "MAX_BODY_BYTES",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD_V1)
def test_bad_v1_input_gets_a_4xx_that_names_the_problem(
    client: TestClient, body: bytes, content_type: str | None, status: int, words: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/predict", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert client.get("/healthz").status_code == 200


def infer_body(**tensor: object) -> dict[str, object]:
    base = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": row()}
    return {"inputs": [{**base, **tensor}]}


BAD_V2 = [
    (infer_body(datatype="INT8"), 400, "datatype must be FP32"),
    (infer_body(shape=[1, 3]), 400, "shape must be [rows, 64]"),
    (infer_body(shape=[2, DIM]), 400, "do not fill shape"),
    (infer_body(data=["x"] * DIM), 400, "only numbers"),
    (infer_body(data=[*row()[:-1], True]), 400, "only numbers"),
    (infer_body(data=[*row()[:-1], 1e39]), 400, "finite float32"),
    (infer_body(shape=[33, DIM], data=row() * 33), 400, "at most 32"),
    ({"inputs": []}, 400, "exactly one input tensor"),
    ({"inputs": [{"name": "x"}]}, 400, "needs 'name', 'shape', 'datatype' and 'data'"),
    ({**infer_body(), "outputs": [{"name": "logits"}]}, 400, "unknown output"),
    ([1, 2], 400, "'inputs'"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_V2)
def test_bad_v2_input_gets_an_oip_error(
    client: TestClient, body: object, status: int, words: str
) -> None:
    response = client.post("/v2/models/digits-mlp/infer", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
