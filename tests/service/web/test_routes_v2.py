"""service/web/routes/v2.py in process: the Open Inference Protocol's health, metadata and
infer routes, unversioned and versioned, their refusals in the protocol's {"error": ...}."""

from __future__ import annotations

import gzip
import json
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from app_client import DIM, NAME, VERSION, app_client, features, runtime
from fastapi.testclient import TestClient

from service import __version__
from service.protocol import oip_tensors

INFER = f"/v2/models/{NAME}/infer"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with app_client() as c:
        yield c


def infer_body(**tensor: object) -> dict[str, Any]:
    base = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": features()}
    return {"inputs": [{**base, **tensor}]}


def test_server_metadata_names_the_server_and_its_extension(client: TestClient) -> None:
    assert client.get("/v2").json() == {
        "name": "corebound",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }


def test_a_ready_server_is_live_and_ready(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    for path in (f"/v2/models/{NAME}/ready", f"/v2/models/{NAME}/versions/{VERSION}/ready"):
        assert client.get(path).json() == {"name": NAME, "ready": True}


def test_server_and_model_are_503_not_ready_while_the_worker_is_not(client: TestClient) -> None:
    rt = runtime(client)
    rt.ready = False
    try:
        server, model = client.get("/v2/health/ready"), client.get(f"/v2/models/{NAME}/ready")
    finally:
        rt.ready = True

    assert (server.status_code, server.json()) == (503, {"ready": False})
    assert (model.status_code, model.json()) == (503, {"name": NAME, "ready": False})


def test_live_is_503_once_the_inference_thread_is_gone() -> None:
    with app_client() as c:
        _, engine = runtime(c).serving
        engine.stop()

        response = c.get("/v2/health/live")

    assert (response.status_code, response.json()) == (503, {"live": False})


def test_model_metadata_is_the_same_unversioned_and_versioned(client: TestClient) -> None:
    model, _ = runtime(client).serving

    unversioned = client.get(f"/v2/models/{NAME}").json()
    versioned = client.get(f"/v2/models/{NAME}/versions/{VERSION}").json()

    assert unversioned == versioned == oip_tensors.metadata(model)


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("GET", "/v2/models/other", f"unknown model 'other'; this server serves '{NAME}'"),
        ("GET", "/v2/models/other/ready", "unknown model 'other'"),
        ("POST", "/v2/models/other/infer", "unknown model 'other'"),
        ("GET", f"/v2/models/{NAME}/versions/9", f"unknown version '9' of model '{NAME}'"),
        ("POST", f"/v2/models/{NAME}/versions/9/infer", f"versions: ['{VERSION}']"),
    ],
)
def test_an_unknown_model_or_version_is_404_naming_what_is_served(
    client: TestClient, method: str, path: str, words: str
) -> None:
    response = client.request(method, path, json=infer_body())

    assert response.status_code == 404 and words in response.json()["error"]


def test_v2_infer_matches_v1(client: TestClient) -> None:
    v1 = client.post("/v1/predict", json={"inputs": [features(5.0)]}).json()

    response = client.post(INFER, json={"id": "r1", **infer_body(data=features(5.0))})

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "r1" and (body["model_name"], body["model_version"]) == (NAME, VERSION)
    probs, label = body["outputs"]
    assert probs["shape"] == [1, 10] and probs["datatype"] == "FP32"
    assert np.allclose(probs["data"], v1["outputs"][0], atol=1e-6)
    assert label == {"name": "label", "shape": [1], "datatype": "BYTES", "data": v1["labels"]}


def test_the_versioned_infer_answers_as_the_unversioned(client: TestClient) -> None:
    unversioned = client.post(INFER, json={"id": "x", **infer_body()}).json()

    versioned = client.post(
        f"/v2/models/{NAME}/versions/{VERSION}/infer", json={"id": "x", **infer_body()}
    ).json()

    assert versioned == unversioned


def test_without_an_id_the_answer_gets_a_fresh_one(client: TestClient) -> None:
    first, second = (client.post(INFER, json=infer_body()).json()["id"] for _ in range(2))

    assert first != second and uuid.UUID(first) and uuid.UUID(second)


def test_v2_nested_data_and_output_selection(client: TestClient) -> None:
    request = {
        **infer_body(shape=[2, DIM], data=[features(), features()]),
        "outputs": [{"name": "label"}],
    }

    body = client.post(INFER, json=request).json()

    assert [o["name"] for o in body["outputs"]] == ["label"] and body["outputs"][0]["shape"] == [2]


def test_binary_outputs_come_after_the_json_header_it_measures(client: TestClient) -> None:
    request = {**infer_body(), "parameters": {"binary_data_output": True}}

    response = client.post(INFER, json=request)

    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:length])
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert sizes[0] == 40 and len(response.content) == length + sum(sizes)


def test_binary_input_answers_as_json_input(client: TestClient) -> None:
    tensor = {"name": "input-0", "shape": [1, DIM], "datatype": "FP32",
              "parameters": {"binary_data_size": DIM * 4}}  # fmt: skip
    header = json.dumps({"id": "b", "inputs": [tensor]}).encode()
    raw = struct.pack(f"<{DIM}f", *features())

    binary = client.post(
        INFER, content=header + raw, headers={"Inference-Header-Content-Length": str(len(header))}
    )

    assert binary.status_code == 200, binary.text
    assert binary.json() == client.post(INFER, json={"id": "b", **infer_body()}).json()


def test_a_gzip_body_answers_as_the_plain_one(client: TestClient) -> None:
    plain = json.dumps({"id": "z", **infer_body()}).encode()

    zipped = client.post(INFER, content=gzip.compress(plain), headers={"Content-Encoding": "gzip"})

    assert zipped.status_code == 200, zipped.text
    assert zipped.json() == client.post(INFER, content=plain).json()


def test_a_body_that_is_not_json_hints_at_the_binary_header_only_without_it(
    client: TestClient,
) -> None:
    body = b'{"inputs": []}' + b"\x00\x01"

    without = client.post(INFER, content=body).json()["error"]
    declared = client.post(
        INFER, content=body, headers={"Inference-Header-Content-Length": str(len(body))}
    ).json()["error"]

    assert "not valid JSON" in without and "need an Inference-Header-Content-Length" in without
    assert "not valid JSON" in declared and "Inference-Header-Content-Length" not in declared


BAD_V2 = [
    (infer_body(datatype="INT8"), "datatype must be FP32"),
    (infer_body(shape=[1, 3]), f"shape must be [rows, {DIM}]"),
    (infer_body(shape=[2, DIM]), "do not fill shape"),
    (infer_body(data=["x"] * DIM), "only numbers"),
    (infer_body(data=[*features()[:-1], True]), "only numbers"),
    (infer_body(data=[*features()[:-1], 1e39]), "finite float32"),
    (infer_body(shape=[33, DIM], data=features() * 33), "at most 32"),
    ({"inputs": []}, "exactly one input tensor"),
    ({"inputs": [{"name": "x"}]}, "needs 'name', 'shape', 'datatype' and 'data'"),
    ({**infer_body(), "outputs": [{"name": "logits"}]}, "unknown output"),
    ([1, 2], "'inputs'"),
]


@pytest.mark.parametrize(("body", "words"), BAD_V2)
def test_bad_v2_input_gets_an_oip_error(client: TestClient, body: object, words: str) -> None:
    response = client.post(INFER, json=body)

    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
