"""A model.onnx served in process with no code (MODEL_DIR holding only it): /v1/predict for a
graph of one [rows, width] input of any numeric type, the Open Inference Protocol for every
graph, its tensors' datatypes in JSON and binary, and the refusals naming what to send.

The graphs are built here with onnx.helper, a node or two each."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import onnx
import pytest
from app_client import app_client
from fastapi.testclient import TestClient
from onnx import TensorProto, helper

from service.settings import Settings

INT64, FLOAT, STRING = TensorProto.INT64, TensorProto.FLOAT, TensorProto.STRING


def value(name: str, elem_type: int, shape: list[str | int | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def write_graph(
    directory: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
) -> Path:
    graph = helper.make_graph(nodes, directory.name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what this onnxruntime reads whatever onnx wrote by default
    directory.mkdir(parents=True)
    onnx.save(model, directory / "model.onnx")
    return directory


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graphs")


def serve(directory: Path) -> Iterator[TestClient]:
    settings = Settings(
        model_dir=directory,
        model_cache_dir=directory.parent / "cache",
        max_rows_per_request=32,
        max_queue_rows=64,
    )
    with app_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def codes(graphs: Path) -> Iterator[TestClient]:
    """Model `codes`: codes INT64 [batch, 3] -> scores FP32 [batch, 3] (cast): no label output."""
    directory = write_graph(
        graphs / "codes",
        [helper.make_node("Cast", ["codes"], ["scores"], to=FLOAT)],
        [value("codes", INT64, ["batch", 3])],
        [value("scores", FLOAT, ["batch", 3])],
    )
    yield from serve(directory)


@pytest.fixture(scope="module")
def words(graphs: Path) -> Iterator[TestClient]:
    """Model `words`: text STRING [n] -> same STRING [n] (identity)."""
    directory = write_graph(
        graphs / "words",
        [helper.make_node("Identity", ["text"], ["same"])],
        [value("text", STRING, [None])],
        [value("same", STRING, [None])],
    )
    yield from serve(directory)


@pytest.fixture(scope="module")
def pair(graphs: Path) -> Iterator[TestClient]:
    """Model `pair`: a FP32 [n, 2], b INT64 [n, 1] -> a_out FP32 (identity), b_sum INT64 (b + b)."""
    directory = write_graph(
        graphs / "pair",
        [
            helper.make_node("Identity", ["a"], ["a_out"]),
            helper.make_node("Add", ["b", "b"], ["b_sum"]),
        ],
        [value("a", FLOAT, [None, 2]), value("b", INT64, [None, 1])],
        [value("a_out", FLOAT, [None, 2]), value("b_sum", INT64, [None, 1])],
    )
    yield from serve(directory)


def binary_request(tensors: list[dict[str, Any]], raw: bytes, **request: Any) -> dict[str, Any]:
    """TestClient.post arguments for a binary request: JSON header, then `raw`."""
    header = json.dumps({"inputs": tensors, **request}).encode()
    return {
        "content": header + raw,
        "headers": {"Inference-Header-Content-Length": str(len(header))},
    }


def binary_answer(content: bytes, headers: Mapping[str, str]) -> tuple[dict[str, Any], bytes]:
    """A binary answer's JSON header and the output bytes after it."""
    length = int(headers["inference-header-content-length"])
    return json.loads(content[:length]), content[length:]


def test_v1_predict_answers_integer_rows_with_each_rows_output_and_no_labels(
    codes: TestClient,
) -> None:
    response = codes.post("/v1/predict", json={"inputs": [[1, 2, 3], [-4, 5, 6]]})

    assert response.status_code == 200, response.text
    assert response.json() == {"outputs": [[1.0, 2.0, 3.0], [-4.0, 5.0, 6.0]], "labels": []}


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([[1, 2.5, 3]], "INT64 takes whole numbers, got decimals"),
        ([[1, 2, 2**63]], "a value is outside INT64's range"),
        ([[1, True, 3]], "booleans"),
        ([[1, 2]], "must have 3 numbers, got 2"),
    ],
    ids=["decimals", "out-of-range", "boolean", "width"],
)
def test_v1_refuses_rows_an_int64_input_cannot_take_with_a_422_naming_why(
    codes: TestClient, rows: list[list[Any]], words: str
) -> None:
    response = codes.post("/v1/predict", json={"inputs": rows})

    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


def test_model_metadata_lists_the_graphs_datatypes_and_dynamic_axes(codes: TestClient) -> None:
    response = codes.get("/v2/models/codes")

    assert response.status_code == 200
    assert response.json() == {
        "name": "codes",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "codes", "datatype": "INT64", "shape": [-1, 3]}],
        "outputs": [{"name": "scores", "datatype": "FP32", "shape": [-1, 3]}],
    }


CODES = {"name": "codes", "shape": [2, 3], "datatype": "INT64"}
SCORES = {"name": "scores", "shape": [2, 3], "datatype": "FP32"}


def test_v2_infer_takes_int64_as_json(codes: TestClient) -> None:
    request = {"id": "j", "inputs": [{**CODES, "data": [[1, 2, 3], [4, 5, 6]]}]}

    response = codes.post("/v2/models/codes/infer", json=request)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_name": "codes",
        "model_version": "1",
        "id": "j",
        "outputs": [{**SCORES, "data": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}],
    }


def test_v2_infer_takes_int64_as_little_endian_binary_and_answers_binary(
    codes: TestClient,
) -> None:
    tensor = {**CODES, "parameters": {"binary_data_size": 48}}
    raw = struct.pack("<6q", 1, 2, 3, 4, 5, 6)
    request = binary_request([tensor], raw, parameters={"binary_data_output": True})

    response = codes.post("/v2/models/codes/infer", **request)

    assert response.status_code == 200, response.text
    header, tail = binary_answer(response.content, response.headers)
    assert header["outputs"] == [{**SCORES, "parameters": {"binary_data_size": 24}}]
    assert struct.unpack("<6f", tail) == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


def test_v2_refuses_decimals_for_an_int64_input(codes: TestClient) -> None:
    request = {"inputs": [{**CODES, "data": [1, 2, 3, 4, 5, 6.5]}]}

    response = codes.post("/v2/models/codes/infer", json=request)

    assert response.status_code == 400
    assert response.json()["error"] == "input 'codes': INT64 takes whole numbers, got decimals"


def test_a_bytes_model_answers_strings_as_json(words: TestClient) -> None:
    request = {
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["héllo", ""]}]
    }

    response = words.post("/v2/models/words/infer", json=request)

    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [
        {"name": "same", "shape": [2], "datatype": "BYTES", "data": ["héllo", ""]}
    ]


def test_a_bytes_model_answers_length_prefixed_binary_strings(words: TestClient) -> None:
    raw = b"".join(struct.pack("<I", len(e)) + e for e in ("héllo".encode(), b"", b"x"))
    size = {"binary_data_size": len(raw)}
    tensor = {"name": "text", "shape": [3], "datatype": "BYTES", "parameters": size}
    request = binary_request(
        [tensor], raw, outputs=[{"name": "same", "parameters": {"binary_data": True}}]
    )

    response = words.post("/v2/models/words/infer", **request)

    assert response.status_code == 200, response.text
    header, tail = binary_answer(response.content, response.headers)
    assert header["outputs"] == [
        {"name": "same", "shape": [3], "datatype": "BYTES", "parameters": size}
    ]
    assert tail == raw


def test_v1_refuses_a_model_of_two_inputs_naming_them_and_the_v2_route(pair: TestClient) -> None:
    response = pair.post("/v1/predict", json={"inputs": [[1.0, 2.0, 3.0]]})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'name': 'a'" in detail and "'name': 'b'" in detail
    assert "use POST /v2/models/pair/infer" in detail


def test_v2_infer_of_two_inputs_answers_every_output_in_order_int64_exactly(
    pair: TestClient,
) -> None:
    big = 2**60 + 1  # not a float64: an INT64 that went through a float would come back changed
    request = {
        "inputs": [
            {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[0.5, 1.0], [2.0, 3.0]]},
            {"name": "b", "shape": [2, 1], "datatype": "INT64", "data": [[big], [-3]]},
        ]
    }

    response = pair.post("/v2/models/pair/infer", json=request)

    assert response.status_code == 200, response.text
    a_out, b_sum = response.json()["outputs"]
    assert a_out == {
        "name": "a_out",
        "shape": [2, 2],
        "datatype": "FP32",
        "data": [0.5, 1.0, 2.0, 3.0],
    }
    assert b_sum == {"name": "b_sum", "shape": [2, 1], "datatype": "INT64", "data": [2 * big, -6]}


@pytest.fixture(scope="module")
def single(graphs: Path) -> Iterator[TestClient]:
    """Model `single`: x FP32 [1, 4] -> y (identity): its first axis is fixed at one row."""
    directory = write_graph(
        graphs / "single",
        [helper.make_node("Identity", ["x"], ["y"])],
        [value("x", FLOAT, [1, 4])],
        [value("y", FLOAT, [1, 4])],
    )
    yield from serve(directory)


def test_a_graph_of_one_fixed_row_takes_exactly_one_on_v1(single: TestClient) -> None:
    one = single.post("/v1/predict", json={"inputs": [[1, 2, 3, 4]]})
    two = single.post("/v1/predict", json={"inputs": [[1, 2, 3, 4], [5, 6, 7, 8]]})

    assert one.status_code == 200 and one.json()["outputs"] == [[1, 2, 3, 4]]
    assert two.status_code == 422
    assert two.json()["detail"] == "'inputs' has 2 rows; this model takes exactly 1"
