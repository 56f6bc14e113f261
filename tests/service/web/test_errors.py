"""Errors keep each protocol's JSON shape, a model that raises included (never a text 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


class Exploding:
    """A MODEL_CLASS model whose predict raises after the warm-up call."""

    name = "exploding"
    input_dim = 4
    labels = ("a", "b")

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls > 1:
            raise ValueError("weights corrupt")
        return np.zeros((len(batch), 2), np.float32)


def exploding(model_dir: Path) -> Exploding:
    return Exploding()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(model_dir=tmp_path_factory.mktemp("m"), model_class="test_errors:exploding")
    # raise_server_exceptions=False: see the response a client would get, as a server sends it.
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_model_exception_on_v1_is_a_json_500_with_detail(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"inputs": [[1, 2, 3, 4]]})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "model failed: ValueError: weights corrupt"}


def test_model_exception_on_v2_is_a_json_500_with_error(client: TestClient) -> None:
    tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    response = client.post("/v2/models/exploding/infer", json={"inputs": [tensor]})
    assert response.status_code == 500
    assert response.json() == {"error": "model failed: ValueError: weights corrupt"}


def test_the_worker_keeps_serving_after_a_model_exception(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.post("/v1/predict", json={"inputs": [[1, 2, 3, 4]]}).status_code == 500
