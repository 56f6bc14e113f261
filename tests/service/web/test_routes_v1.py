"""service/web/routes/v1.py in process: `POST /v1/predict` answers probabilities and labels,
and refuses every kind of bad body with a 4xx whose `detail` names the problem."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from app_client import app_client, features
from fastapi.testclient import TestClient
from predict_cases import BAD_V1


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


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD_V1)
def test_bad_v1_input_gets_a_4xx_that_names_the_problem(
    client: TestClient, body: bytes, content_type: str, status: int, words: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = client.post("/v1/predict", content=body, headers=headers)

    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert client.get("/healthz").status_code == 200
