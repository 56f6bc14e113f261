"""tritonclient[http] against the real service under gunicorn: JSON and binary tensors, both
ways, versioned and unversioned paths, and every refusal decoded by the client itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from serving import Service, holdout, run_service
from tritonclient.utils import InferenceServerException

MODEL = "digits-mlp"
Client: TypeAlias = triton.InferenceServerClient
Expected: TypeAlias = tuple[np.ndarray, list[str]]
LIMITS = {"MAX_ROWS_PER_REQUEST": "8", "MAX_BODY_BYTES": "16384"}


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with run_service(LIMITS) as svc:
        yield svc


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[triton.InferenceServerClient]:
    triton_client = triton.InferenceServerClient(service.url.removeprefix("http://"))
    yield triton_client
    triton_client.close()


@pytest.fixture(scope="module")
def model_version(client: triton.InferenceServerClient) -> str:
    version: str = client.get_model_metadata(MODEL)["versions"][0]
    return version


@pytest.fixture(scope="module")
def expected(service: Service) -> tuple[np.ndarray, list[str]]:
    """Rows 0-7 of the held-out digits and the labels /v1/predict gives them."""
    rows = np.array(holdout()[0][:8], dtype=np.float32)
    answer = httpx.post(service.url + "/v1/predict", json={"inputs": rows.tolist()}).json()
    return np.array(answer["outputs"], dtype=np.float32), answer["labels"]


def tensor(rows: np.ndarray, binary: bool, name: str = "input-0") -> triton.InferInput:
    infer_input = triton.InferInput(name, list(rows.shape), "FP32")
    infer_input.set_data_from_numpy(rows, binary_data=binary)
    return infer_input


def typed(rows: np.ndarray, datatype: str) -> triton.InferInput:
    infer_input = triton.InferInput("input-0", list(rows.shape), datatype)
    infer_input.set_data_from_numpy(rows)
    return infer_input


def outputs(probabilities: bool, label: bool) -> list[triton.InferRequestedOutput]:
    return [
        triton.InferRequestedOutput("probabilities", binary_data=probabilities),
        triton.InferRequestedOutput("label", binary_data=label),
    ]


def labels(result: triton.InferResult) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label").tolist()]


ROWS = np.array(holdout()[0][:8], dtype=np.float32)


@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize(
    ("binary_in", "binary_probabilities", "binary_label"),
    [(False, False, False), (True, True, True), (True, False, True), (False, True, False)],
)
def test_infer_json_and_binary_both_ways_match_v1(
    client: Client,
    expected: Expected,
    model_version: str,
    versioned: bool,
    binary_in: bool,
    binary_probabilities: bool,
    binary_label: bool,
) -> None:
    result = client.infer(
        MODEL,
        [tensor(ROWS, binary_in)],
        model_version=model_version if versioned else "",
        outputs=outputs(binary_probabilities, binary_label),
        request_id="req-7",
    )
    response = result.get_response()
    sizes = {
        o["name"]: o.get("parameters", {}).get("binary_data_size") for o in response["outputs"]
    }
    assert (sizes["probabilities"] is not None) == binary_probabilities
    assert (sizes["label"] is not None) == binary_label
    assert response["id"] == "req-7" and response["model_version"] == model_version
    assert np.array_equal(result.as_numpy("probabilities").reshape(8, -1), expected[0])
    assert labels(result) == expected[1]


def test_default_request_asks_every_output_in_binary(
    client: Client, expected: Expected, service: Service
) -> None:
    # No outputs named: tritonclient sets binary_data_output, its out-of-the-box request.
    result = client.infer(MODEL, [tensor(ROWS, True)])
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])
    assert labels(result) == expected[1]
    body, json_size = triton.InferenceServerClient.generate_request_body([tensor(ROWS, True)])
    raw = httpx.post(
        f"{service.url}/v2/models/{MODEL}/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(json_size)},
    )
    header_length = int(raw.headers["inference-header-content-length"])
    assert raw.headers["content-type"] == "application/octet-stream"
    parsed = triton.InferResult.from_response_body(raw.content, header_length=header_length)
    assert np.array_equal(parsed.as_numpy("probabilities"), expected[0])


def test_json_request_without_content_type_is_accepted(
    service: Service, expected: Expected
) -> None:
    body, json_size = triton.InferenceServerClient.generate_request_body(
        [tensor(ROWS, False)], outputs=outputs(False, False)
    )
    assert json_size is None
    response = httpx.post(f"{service.url}/v2/models/{MODEL}/infer", content=body)
    assert "content-type" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][1]["data"] == expected[1]


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(client: Client, expected: Expected, algorithm: str) -> None:
    result = client.infer(MODEL, [tensor(ROWS, True)], request_compression_algorithm=algorithm)
    assert labels(result) == expected[1]


@pytest.mark.parametrize("versioned", [False, True])
def test_health_metadata_and_readiness(client: Client, model_version: str, versioned: bool) -> None:
    version = model_version if versioned else ""
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL, model_version=version)
    assert not client.is_model_ready("other", model_version=version)
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata(MODEL, model_version=version)
    assert meta["versions"] == [model_version]
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 64]}]


def refusal(call: Callable[[], object]) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


ERRORS = [
    # (what the client sends, status, words the decoded message must hold)
    (lambda c: c.infer("other", [tensor(ROWS, True)]), "404", "unknown model 'other'"),
    (lambda c: c.infer(MODEL, [tensor(ROWS, True)], model_version="2"), "404", "unknown version"),
    (lambda c: c.get_model_metadata(MODEL, model_version="2"), "404", "unknown version '2'"),
    (lambda c: c.get_model_config(MODEL), "404", "no such endpoint"),
    (lambda c: c.get_model_repository_index(), "404", "no such endpoint"),
    (lambda c: c.infer(MODEL, [tensor(ROWS, True, "pixels")]), "400", "unknown input 'pixels'"),
    (
        lambda c: c.infer(MODEL, [tensor(ROWS, True), tensor(ROWS, True, "input-1")]),
        "400",
        "exactly one input tensor",
    ),
    (
        lambda c: c.infer(MODEL, [typed(ROWS.astype(np.int32), "INT32")]),
        "400",
        "datatype must be FP32",
    ),
    (lambda c: c.infer(MODEL, [tensor(ROWS.reshape(16, 32), True)]), "400", "shape must be"),
    (lambda c: c.infer(MODEL, [tensor(ROWS.reshape(-1), True)]), "400", "shape must be"),
    (lambda c: c.infer(MODEL, [tensor(np.ones((9, 64), np.float32), True)]), "400", "at most 8"),
    (
        lambda c: c.infer(MODEL, [tensor(np.full((1, 64), np.inf, np.float32), True)]),
        "400",
        "finite float32",
    ),
    (
        lambda c: c.infer(
            MODEL,
            [tensor(np.ones((1, 64), np.float32), False)],
            outputs=[triton.InferRequestedOutput("logits")],
        ),
        "400",
        "unknown output",
    ),
    (
        lambda c: c.infer(
            MODEL,
            [tensor(ROWS, True)],
            outputs=[triton.InferRequestedOutput("label", class_count=3)],
        ),
        "400",
        "classification extension",
    ),
    (
        lambda c: c.infer(MODEL, [tensor(np.ones((64, 64), np.float32), True)]),
        "413",
        "MAX_BODY_BYTES=16384",
    ),
    (
        lambda c: c.infer(
            MODEL,
            [tensor(np.ones((64, 64), np.float32), False)],
            request_compression_algorithm="gzip",
        ),
        "413",
        "MAX_BODY_BYTES=16384",
    ),
]


@pytest.mark.parametrize(("call", "status", "words"), ERRORS)
def test_refusals_decode_in_tritonclient(
    client: Client, call: Callable[[Client], object], status: str, words: str
) -> None:
    error = refusal(lambda: call(client))
    assert error.status() == status, error.message()
    assert words in error.message()
    assert client.is_server_live()
