"""Open Inference Protocol tensors without HTTP: the model's metadata, infer requests decoded
(JSON and binary tensors alike) with every refusal a 400 naming the problem, answers encoded."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from paths import DEFAULT_MODEL

from service.inference.loaded import rows_model
from service.inference.model import load_artifact
from service.protocol import oip_binary, oip_tensors
from service.protocol.errors import InputError

MODEL = load_artifact(DEFAULT_MODEL, runtime="numpy")
DIM = MODEL.inputs[0].shape[1]
ROW = [float(i % 17) for i in range(DIM)]
NO_TAIL = memoryview(b"")


def tensor(**fields: Any) -> dict[str, Any]:
    return {"name": "input-0", "shape": [1, DIM], "datatype": "FP32", "data": ROW, **fields}


def binary_tensor(rows: int = 1, **fields: Any) -> dict[str, Any]:
    size = {"binary_data_size": rows * DIM * 4}
    spec = {"name": "input-0", "shape": [rows, DIM], "datatype": "FP32", "parameters": size}
    return {**spec, **fields}


def output(name: str, **parameters: Any) -> dict[str, Any]:
    return {"name": name, "parameters": parameters}


def fp32(*rows: list[float]) -> memoryview:
    return memoryview(struct.pack(f"<{DIM * len(rows)}f", *(v for r in rows for v in r)))


def decode(
    payload: Any, tail: memoryview = NO_TAIL, binary: bool = False, max_rows: int = 4
) -> oip_tensors.Decoded:
    return oip_tensors.decode(payload, tail, binary, MODEL, max_rows, scan=True)


def test_metadata_describes_the_one_input_and_both_outputs() -> None:
    meta = oip_tensors.metadata(MODEL)

    assert (meta["name"], meta["versions"]) == (MODEL.name, [MODEL.version])
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, DIM]}]
    assert meta["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
    ]


def test_a_model_without_labels_has_probabilities_of_unknown_width_and_no_label() -> None:
    unlabelled = rows_model(MODEL.predictor, "m", "1", 3)

    assert oip_tensors.metadata(unlabelled)["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, -1]}
    ]


@pytest.mark.parametrize("data", [ROW * 2, [ROW, ROW]], ids=["flat", "nested"])
def test_json_data_flat_or_nested_decodes_to_float32_rows(data: list[Any]) -> None:
    decoded = decode({"id": "r1", "inputs": [tensor(shape=[2, DIM], data=data)]})

    assert decoded.rows.dtype == np.float32 and decoded.rows.tolist() == [ROW, ROW]
    assert decoded.request_id == "r1"
    assert decoded.outputs == [("probabilities", False), ("label", False)]


def test_binary_data_decodes_to_the_same_rows_as_json() -> None:
    as_json = decode({"inputs": [tensor(shape=[2, DIM], data=[ROW, ROW])]})

    as_binary = decode({"inputs": [binary_tensor(rows=2)]}, fp32(ROW, ROW), binary=True)

    assert np.array_equal(as_binary.rows, as_json.rows)


@pytest.mark.parametrize("request_id", [7, None, ["a"]])
def test_an_id_that_is_not_a_string_is_not_echoed(request_id: Any) -> None:
    assert decode({"id": request_id, "inputs": [tensor()]}).request_id is None


def test_outputs_are_sent_as_asked_each_binary_or_not() -> None:
    payload = {
        "inputs": [tensor()],
        "parameters": {"binary_data_output": True},
        "outputs": [
            output("label", binary_data=False),
            {"name": "probabilities"},
        ],
    }

    assert decode(payload).outputs == [("label", False), ("probabilities", True)]


def refusals() -> list[tuple[Any, memoryview, bool, str]]:
    bad_shape = "shape must be [rows, 64] with rows >= 1"
    return [
        ([tensor()], NO_TAIL, False, "body must be an object with 'inputs'"),
        ({"inputs": {"x": 1}}, NO_TAIL, False, "body must be an object with 'inputs'"),
        ({"inputs": [tensor(), tensor()]}, NO_TAIL, False, "exactly one input tensor"),
        ({"inputs": ["x"]}, NO_TAIL, False, "needs 'name', 'shape', 'datatype' and 'data'"),
        ({"inputs": [{"name": "input-0"}]}, NO_TAIL, False, "needs 'name', 'shape'"),
        ({"inputs": [tensor(name="x")]}, NO_TAIL, False, "unknown input 'x'"),
        ({"inputs": [tensor(name={})]}, NO_TAIL, False, "unknown input {}"),
        ({"inputs": [tensor(datatype="FP64")]}, NO_TAIL, False, "datatype must be FP32"),
        ({"inputs": [tensor(shape=[1, 3])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[DIM])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[0, DIM], data=[])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[-1, DIM])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[True, DIM])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[1.0, DIM])]}, NO_TAIL, False, bad_shape),
        ({"inputs": [tensor(shape=[5, DIM], data=ROW * 5)]}, NO_TAIL, False, "5 rows; at most 4"),
        ({"inputs": [tensor(parameters=[1])]}, NO_TAIL, False, "'parameters' must be an object"),
        (
            {"inputs": [tensor(parameters={"shared_memory_region": "r"})]},
            NO_TAIL, False, "shared_memory_region needs the shared memory extension",
        ),
        ({"inputs": [tensor(data="1, 2")]}, NO_TAIL, False, "'data' must be a list of numbers"),
        ({"inputs": [tensor(data=[ROW, ROW[:3]])]}, NO_TAIL, False, "row-major nested list"),
        ({"inputs": [tensor(data=["1"] * DIM)]}, NO_TAIL, False, "must hold only numbers"),
        ({"inputs": [tensor(data=[None] * DIM)]}, NO_TAIL, False, "must hold only numbers"),
        ({"inputs": [tensor(data=[*ROW[1:], True])]}, NO_TAIL, False, "must hold only numbers"),
        ({"inputs": [tensor(data=ROW[1:])]}, NO_TAIL, False, "63 values do not fill shape"),
        ({"inputs": [tensor(data=[*ROW[1:], 1e39])]}, NO_TAIL, False, "not a finite float32"),
        ({"inputs": [tensor()]}, fp32(ROW), True, "overlong binary data"),
        ({"inputs": [binary_tensor()]}, fp32(ROW), False, "no Inference-Header-Content-Length"),
        ({"inputs": [binary_tensor(data=ROW)]}, fp32(ROW), True, "'data' or parameters.binary"),
        (
            {"inputs": [binary_tensor(parameters={"binary_data_size": "256"})]},
            fp32(ROW), True, "binary_data_size must be 256 (shape [1, 64] of 4-byte FP32)",
        ),
        (
            {"inputs": [binary_tensor(parameters={"binary_data_size": 252})]},
            fp32(ROW), True, "binary_data_size must be 256",
        ),
        ({"inputs": [binary_tensor()]}, fp32(ROW)[:-4], True, "truncated binary data"),
        ({"inputs": [binary_tensor()]}, fp32(ROW, ROW), True, "overlong binary data"),
        ({"inputs": [binary_tensor()]}, fp32([*ROW[1:], np.nan]), True, "not a finite float32"),
        ({"inputs": [tensor()], "parameters": "x"}, NO_TAIL, False, "request 'parameters' must"),
        (
            {"inputs": [tensor()], "parameters": {"binary_data_output": 1}},
            NO_TAIL, False, "binary_data_output must be true or false",
        ),
        ({"inputs": [tensor()], "outputs": {"name": "label"}}, NO_TAIL, False, "must be a list"),
        ({"inputs": [tensor()], "outputs": ["label"]}, NO_TAIL, False, "'outputs' must be a list"),
        (
            {"inputs": [tensor()], "outputs": [{"name": "logits"}]},
            NO_TAIL, False, "output(s) ['logits']; this model has ['probabilities', 'label']",
        ),
        (
            {"inputs": [tensor()], "outputs": [output("label", binary_data=0)]},
            NO_TAIL, False, "output 'label': parameters.binary_data must be true or false",
        ),
        (
            {"inputs": [tensor()], "outputs": [output("label", classification=3)]},
            NO_TAIL, False, "classification needs the classification extension",
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("payload", "tail", "binary", "words"), refusals())
def test_a_bad_request_is_refused_with_400_naming_the_problem(
    payload: Any, tail: memoryview, binary: bool, words: str
) -> None:
    with pytest.raises(InputError) as refused:
        decode(payload, tail, binary)

    assert refused.value.status == 400
    assert words in refused.value.message


def outputs_of(rows: int) -> np.ndarray:
    return np.asarray(MODEL.predictor.predict(np.full((rows, DIM), 3.0, np.float32)))


def test_json_answer_carries_both_outputs_with_data() -> None:
    outputs = outputs_of(2)
    labels = [str(i) for i in outputs.argmax(axis=1)]

    header, parts = oip_tensors.encode(
        MODEL, outputs, [("probabilities", False), ("label", False)], "r1"
    )

    assert parts == []
    assert (header["model_name"], header["model_version"], header["id"]) == (
        MODEL.name, MODEL.version, "r1",
    )  # fmt: skip
    probabilities, label = header["outputs"]
    assert probabilities["shape"] == [2, 10] and probabilities["datatype"] == "FP32"
    assert np.array_equal(probabilities["data"], outputs.reshape(-1))
    assert label == {"name": "label", "shape": [2], "datatype": "BYTES", "data": labels}


def test_binary_outputs_follow_the_header_in_the_order_asked() -> None:
    outputs = outputs_of(2)
    labels = [str(i) for i in outputs.argmax(axis=1)]

    header, parts = oip_tensors.encode(
        MODEL, outputs, [("label", True), ("probabilities", True)], "r"
    )

    assert parts == [oip_binary.bytes_tensor(labels), outputs.astype("<f4").tobytes()]
    assert [o["name"] for o in header["outputs"]] == ["label", "probabilities"]
    assert all("data" not in o for o in header["outputs"])
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert sizes == [len(parts[0]), 2 * 10 * 4]


def test_only_the_requested_outputs_are_encoded_binary_or_not() -> None:
    outputs = outputs_of(1)

    header, parts = oip_tensors.encode(
        MODEL, outputs, [("probabilities", True), ("label", False)], "r"
    )

    assert parts == [outputs.astype("<f4").tobytes()]
    assert header["outputs"][1]["data"] == [str(int(outputs.argmax()))]
    header, parts = oip_tensors.encode(MODEL, outputs, [("label", False)], "r")
    assert [o["name"] for o in header["outputs"]] == ["label"] and parts == []
