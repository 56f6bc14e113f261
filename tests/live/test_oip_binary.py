"""The binary tensor data extension byte by byte, against the real service under gunicorn:
bodies no client library would send (truncated, overlong, mislabelled) get a 4xx saying so."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from serving import run_service

from service.protocol import oip_binary

INFER = "/v2/models/digits-mlp/infer"
ROW = np.linspace(0, 16, 64, dtype=np.float32).reshape(1, 64)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with run_service({"MAX_BODY_BYTES": "16384"}) as svc, httpx.Client(base_url=svc.url) as c:
        yield c


def binary_body(rows: np.ndarray, size: int | None = None, **extra: object) -> tuple[bytes, int]:
    tensor = {
        "name": "input-0",
        "shape": list(rows.shape),
        "datatype": "FP32",
        "parameters": {"binary_data_size": rows.nbytes if size is None else size},
    }
    header = json.dumps({"inputs": [tensor], **extra}).encode()
    return header + rows.astype("<f4").tobytes(), len(header)


def post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(INFER, content=body, headers=headers)


def test_binary_in_json_out(http: httpx.Client) -> None:
    body, length = binary_body(ROW)
    response = post(http, body, {"Inference-Header-Content-Length": str(length)})
    assert response.status_code == 200, response.text
    assert "inference-header-content-length" not in response.headers
    assert response.json()["outputs"][0]["shape"] == [1, 10]


def test_binary_out_layout(http: httpx.Client) -> None:
    body, length = binary_body(ROW, parameters={"binary_data_output": True})
    response = post(
        http,
        body,
        {
            "Inference-Header-Content-Length": str(length),
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 200, response.text
    header_length = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:header_length])
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert all("data" not in o for o in header["outputs"])
    raw = response.content[header_length:]
    assert len(raw) == sum(sizes) and sizes[0] == 40
    probabilities = np.frombuffer(raw[:40], "<f4")
    (label_length,) = struct.unpack("<I", raw[40:44])
    label = raw[44 : 44 + label_length].decode()
    assert abs(float(probabilities.sum()) - 1) < 1e-4
    assert label == str(int(probabilities.argmax()))


def test_bytes_tensor_layout() -> None:
    assert oip_binary.bytes_tensor(["7", "ab"]) == b"\x01\x00\x00\x007\x02\x00\x00\x00ab"


def _cases() -> list[tuple[bytes, dict[str, str], int, str]]:
    good, length = binary_body(ROW)
    short, _ = binary_body(ROW, size=128)
    wrong, wrong_length = binary_body(ROW, size=255)
    json_body = json.dumps(
        {
            "inputs": [
                {"name": "input-0", "shape": [1, 64], "datatype": "FP32", "data": ROW[0].tolist()}
            ]
        }
    ).encode()
    header = {"Inference-Header-Content-Length": str(length)}
    return [
        (good[:-4], header, 400, "truncated binary data"),
        (good + b"\0" * 8, header, 400, "overlong binary data"),
        (short, header, 400, "binary_data_size must be 256"),
        (wrong, {"Inference-Header-Content-Length": str(wrong_length)}, 400, "must be 256"),
        (good, {"Inference-Header-Content-Length": str(len(good) + 1)}, 400, "truncated body"),
        (good, {"Inference-Header-Content-Length": "-3"}, 400, "must be a byte count"),
        (good, {"Inference-Header-Content-Length": str(length - 1)}, 400, "not valid JSON"),
        (good, {}, 400, "need an Inference-Header-Content-Length header"),
        (
            good,
            {"Content-Type": "application/octet-stream"},
            400,
            "Inference-Header-Content-Length",
        ),
        (good[:length], {}, 400, "has no Inference-Header-Content-Length"),
        (json_body, {"Content-Type": "text/plain"}, 415, "Content-Type"),
        (json_body, {"Content-Encoding": "br"}, 415, "Content-Encoding 'br'"),
        (json_body, {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (
            json_body + b"\0\0\0\0",
            {"Inference-Header-Content-Length": str(len(json_body))},
            400,
            "overlong",
        ),
        (good + b"\0" * 16384, header, 413, "MAX_BODY_BYTES=16384"),
    ]


@pytest.mark.parametrize(("body", "headers", "status", "words"), _cases())
def test_malformed_binary_bodies_get_a_4xx_that_says_why(
    http: httpx.Client, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    response = post(http, body, headers)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert http.get("/v2/health/live").json() == {"live": True}


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", INFER, 405, "use POST"),
        ("POST", "/v2/models/digits-mlp", 405, "use GET"),
        ("GET", "/v2/models/digits-mlp/config", 404, "no such endpoint"),
        ("GET", "/v2/models/digits-mlp/versions/x/ready", 404, "unknown version 'x'"),
        ("GET", "/v2/repository/index", 404, "no such endpoint"),
    ],
)
def test_routing_errors_under_v2_are_oip_errors(
    http: httpx.Client, method: str, path: str, status: int, words: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert words in response.json()["error"]
    if status == 405:
        assert response.headers["allow"]


def test_routing_errors_elsewhere_keep_fastapis_shape(http: httpx.Client) -> None:
    assert http.get("/nowhere").json() == {"detail": "Not Found"}
    assert "detail" in http.get("/v1/predict").json()
