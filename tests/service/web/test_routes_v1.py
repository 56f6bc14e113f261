"""service/web/routes/v1.py in process: `POST /v1/predict` answers probabilities and labels,
and refuses every kind of bad body with a 4xx whose `detail` names the problem."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from app_client import DIM, app_client, features
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with app_client() as c:
        yield c


def test_predict_returns_probabilities_and_labels(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"inputs": [features(), features(0.0)]})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert len(body["outputs"]) == 2 and len(body["outputs"][0]) == 10
    assert np.allclose(np.sum(body["outputs"], axis=1), 1.0, atol=1e-4)
    assert body["labels"] == [str(int(np.argmax(o))) for o in body["outputs"]]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json"]
)
def test_any_json_media_type_is_accepted(client: TestClient, content_type: str) -> None:
    body = json.dumps({"inputs": [features()]}).encode()

    response = client.post("/v1/predict", content=body, headers={"content-type": content_type})

    assert response.status_code == 200, response.text


def as_json(payload: object) -> bytes:
    return json.dumps(payload).encode()


ROW = features()
LONG_ROW = [*ROW, 1.0]
JSON = "application/json"
BAD_V1 = [
    # (body bytes, content type, status, words the message must contain)
    (b"{not json", JSON, 400, "not valid JSON"),
    (b'{"inputs": [[NaN]]}', JSON, 400, "NaN and Infinity"),
    (as_json({"inputs": [ROW]}), "text/plain", 415, "Content-Type"),
    (as_json({"inputs": [ROW]}), "", 415, "Content-Type"),
    (as_json([ROW]), JSON, 422, "JSON object"),
    (as_json({"input": [ROW]}), JSON, 422, "unknown field"),
    (as_json({}), JSON, 422, "missing field 'inputs'"),
    (as_json({"inputs": []}), JSON, 422, "empty"),
    (as_json({"inputs": ROW}), JSON, 422, "wrap a single row"),
    (as_json({"inputs": [LONG_ROW]}), JSON, 422, f"must have {DIM} numbers, got {DIM + 1}"),
    (as_json({"inputs": [ROW, ROW[:10]]}), JSON, 422, "ragged"),
    (as_json({"inputs": [["a"] * DIM]}), JSON, 422, "strings"),
    (as_json({"inputs": [[None] * DIM]}), JSON, 422, "nulls"),
    (as_json({"inputs": [[True] * DIM]}), JSON, 422, "booleans"),
    (as_json({"inputs": [[*ROW[:-1], True]]}), JSON, 422, "booleans"),
    (as_json({"inputs": [[*ROW[:-1], 1e39]]}), JSON, 422, "finite float32"),
    (as_json({"inputs": [[*ROW[:-1], 1e400]]}), JSON, 400, "not valid JSON"),
    (as_json({"inputs": [[[1.0] * DIM]]}), JSON, 422, "nesting"),
    (as_json({"inputs": [ROW] * 33}), JSON, 422, "at most 32"),
    # Deep nesting is refused before parsing: more lists than rows allow (was orjson's 400).
    (b"[" * 5000 + b"]" * 5000, JSON, 413, "JSON lists/objects"),
    (as_json({"inputs": [features(123456.0)] * 30, "pad": "x" * 70000}), JSON, 413,
     "MAX_BODY_BYTES"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD_V1)
def test_bad_v1_input_gets_a_4xx_that_names_the_problem(
    client: TestClient, body: bytes, content_type: str, status: int, words: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = client.post("/v1/predict", content=body, headers=headers)

    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert client.get("/healthz").status_code == 200
