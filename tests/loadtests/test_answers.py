"""Request bodies and answer checks for any model's metadata (the live answers: test_live.py)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from test_model_samples import DIGITS, MIXED, metadata

from loadtests import wire
from loadtests.answers import Checker, Outcome, naming_the_answer
from loadtests.model import parse_metadata
from loadtests.samples import Batch

DIGITS_CHECK = Checker(DIGITS, "label")
MIXED_CHECK = Checker(MIXED, "class")


def digits_batch(labels: list[str] | None = None, rows: int = 1) -> Batch:
    return Batch({"input-0": [[float(i)] * 64 for i in range(rows)]}, labels, rows)


def digits_answer(labels: list[str], name: str = "digits-mlp") -> dict[str, Any]:
    n = len(labels)
    return {
        "model_name": name,
        "model_version": "1",
        "id": "x",
        "outputs": [
            {"name": "probabilities", "shape": [n, 10], "datatype": "FP32", "data": [0.1] * 10 * n},
            {"name": "label", "shape": [n], "datatype": "BYTES", "data": labels},
        ],
    }


MIXED_BATCH = Batch(
    {"text": ["a", "bé"], "mask": [[True, False, True]] * 2, "ids": [[[1], [2]], [[3], [4]]]},
    ["1", "0"],
    2,
)


def test_json_bodies_carry_every_input_in_its_shape() -> None:
    body = wire.v2_body(MIXED, MIXED_BATCH)

    assert [(t["name"], t["datatype"], t["shape"]) for t in body["inputs"]] == [
        ("text", "BYTES", [2]),
        ("mask", "BOOL", [2, 3]),
        ("ids", "INT32", [2, 2, 1]),
    ]
    assert body["inputs"][2]["data"] == [1, 2, 3, 4]  # row-major, flat
    assert wire.v1_body(DIGITS, digits_batch(rows=2)) == {"inputs": [[0.0] * 64, [1.0] * 64]}
    assert wire.v2_path(DIGITS) == "/v2/models/digits-mlp/infer"


def test_binary_bodies_pack_each_datatype_after_the_header() -> None:
    body, headers = wire.v2_binary_body(MIXED, MIXED_BATCH)
    split = int(headers[wire.HEADER_LENGTH])
    header = json.loads(body[:split])
    sizes = [t["parameters"]["binary_data_size"] for t in header["inputs"]]

    assert header["parameters"] == {"binary_data_output": True}
    assert sizes == [4 + 1 + 4 + 3, 6, 16] and split + sum(sizes) == len(body)
    text, mask, ids = body[split : split + 12], body[split + 12 : split + 18], body[split + 18 :]
    assert wire.unpack("BYTES", text) == ["a", "bé"]
    assert wire.unpack("BOOL", mask) == [True, False, True] * 2
    assert struct.unpack("<4i", ids) == (1, 2, 3, 4)
    assert wire.unpack("FP64", b"\0" * 9) is None and wire.unpack("BYTES", b"\5\0\0\0ab") is None


def test_json_answers_are_checked_against_the_metadata() -> None:
    good = digits_answer(["7"])
    assert DIGITS_CHECK.v2(200, good, digits_batch(["7"])) == Outcome()
    assert DIGITS_CHECK.v2(200, good, digits_batch(["1"])) == Outcome(wrong=1)
    assert DIGITS_CHECK.v2(200, good, digits_batch()) == Outcome()  # no labels: shapes only
    assert str(DIGITS_CHECK.v2(503, {"error": "busy"}, digits_batch()).error).startswith("shed")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_name": "other"}, "model_name 'other'"),
        ({"outputs": "no"}, "no 'outputs' list"),
        ({"outputs": [0, 1]}, "output None is not one of the model's"),
        ({0: {"shape": [1, 9]}}, "'probabilities' shape [1, 9], not [1, 10]"),
        ({0: {"datatype": "FP64"}}, "'probabilities' datatype 'FP64', not FP32"),
        ({0: {"data": [0.1] * 9}}, "'probabilities' data is not 10 FP32 values"),
        ({0: {"data": [True] * 10}}, "'probabilities' data is not 10 FP32 values"),
        ({1: {"data": [7]}}, "'label' data is not 1 BYTES values"),
        ({"drop": 1}, "outputs ['probabilities'], the model's are ['probabilities', 'label']"),
        ({1: {"name": "extra"}}, "output 'extra' is not one of the model's"),
    ],
)
def test_malformed_json_answers_are_failures(change: dict[Any, Any], message: str) -> None:
    answer = digits_answer(["7"])
    for key, fields in change.items():
        if isinstance(key, int):
            answer["outputs"][key].update(fields)
        elif key == "drop":
            del answer["outputs"][fields]
        else:
            answer[key] = fields

    outcome = DIGITS_CHECK.v2(200, answer, digits_batch(["7"]))

    assert outcome.error is not None and outcome.error.startswith("malformed"), outcome
    assert message in outcome.error


def test_nested_data_and_dynamic_axes_are_accepted() -> None:
    dynamic = Checker(parse_metadata(metadata([("x", "FP32", [-1, 2])], [("y", "FP32", [-1, -1])])))
    y: dict[str, Any] = {"name": "y", "datatype": "FP32", "shape": [2, 3],
                         "data": [[1, 2, 3], [4, 5, 6.5]]}  # fmt: skip
    answer = {"model_name": "m", "outputs": [y]}
    batch = Batch({"x": [[0.0, 0.0]] * 2}, None, 2)
    assert dynamic.v2(200, answer, batch) == Outcome()
    y["shape"] = [3, 2]  # the batch axis must be the rows sent
    assert "shape [3, 2], not [2, -1]" in str(dynamic.v2(200, answer, batch).error)


def binary_answer(header: dict[str, Any], parts: list[bytes]) -> tuple[bytes, str]:
    for tensor, part in zip(header["outputs"], parts, strict=True):
        tensor["parameters"] = {"binary_data_size": len(part)}
    raw = json.dumps(header).encode()
    return raw + b"".join(parts), str(len(raw))


def mixed_binary(labels: list[int]) -> tuple[bytes, str]:
    header = {"model_name": "m", "outputs": [
        {"name": "class", "datatype": "INT64", "shape": [len(labels)]},
        {"name": "scores", "datatype": "FP64", "shape": [len(labels), 2]},
    ]}  # fmt: skip
    scores = struct.pack(f"<{2 * len(labels)}d", *[0.5] * 2 * len(labels))
    return binary_answer(header, [wire.pack("INT64", labels), scores])


def test_binary_answers_are_unpacked_per_datatype() -> None:
    content, length = mixed_binary([1, 0])
    assert MIXED_CHECK.v2_binary(200, content, length, MIXED_BATCH) == Outcome()
    content, length = mixed_binary([1, 1])
    assert MIXED_CHECK.v2_binary(200, content, length, MIXED_BATCH) == Outcome(wrong=1)


def test_broken_binary_answers_are_failures() -> None:
    content, length = mixed_binary([1, 0])

    def error(content: bytes, length: str | None) -> str:
        return str(MIXED_CHECK.v2_binary(200, content, length, MIXED_BATCH).error)

    assert error(content, None).startswith("malformed: no Inference-Header-Content-Length")
    assert error(content[:-1], length).startswith("malformed: 47 binary bytes")
    assert error(content + b"\0", length).startswith("malformed: 49 binary bytes")
    assert error(content, str(int(length) - 1)) == "malformed: binary answer's JSON header"
    three, length3 = mixed_binary([1, 0, 1])  # three rows for the two sent
    assert "'class' shape [3], not [2]" in error(three, length3)
    assert str(MIXED_CHECK.v2_binary(0, b"", None, MIXED_BATCH).error).startswith("no response")


def test_v1_answers_have_one_entry_per_row() -> None:
    good = {"outputs": [[0.1] * 10, [0.1] * 10], "labels": ["3", "4"]}
    batch = digits_batch(["3", "4"], rows=2)
    assert DIGITS_CHECK.v1(200, good, batch) == Outcome()
    assert DIGITS_CHECK.v1(200, good, digits_batch(["3", "5"], rows=2)) == Outcome(wrong=1)
    assert DIGITS_CHECK.v1(504, None, batch).error == "deadline: 504"
    bad = [
        {"labels": ["3", "4"]},
        {**good, "outputs": [[0.1] * 9] * 2},
        {**good, "labels": ["3"]},
        {**good, "labels": None},  # the model has a label output
        {**good, "labels": [["3"], ["4"]]},
    ]
    for body in [*bad, []]:
        assert str(DIGITS_CHECK.v1(200, body, batch).error).startswith("malformed"), body


def test_v1_labels_of_a_model_without_a_label_output_are_optional() -> None:
    regressor = parse_metadata(metadata([("x", "FP32", [-1, 10])], [("variable", "FP32", [-1, 1])]))
    check, batch = Checker(regressor), Batch({"x": [[0.0] * 10] * 2}, None, 2)

    assert check.v1(200, {"outputs": [[194.5], [158.4]], "labels": []}, batch) == Outcome()
    assert check.v1(200, {"outputs": [[194.5], [158.4]]}, batch) == Outcome()
    assert check.v1(200, {"outputs": [194.5, 158.4]}, batch).error  # rows are [1]
    # Integer labels (an INT64 label output) compare as text with the samples' ones.
    assert (
        Checker(DIGITS, "label").v1(
            200, {"outputs": [[0.1] * 10], "labels": [3]}, digits_batch(["3"])
        )
        == Outcome()
    )


def test_an_unexpected_status_names_its_answer_and_others_stay_as_they_are() -> None:
    assert naming_the_answer("HTTP 404", b"404 page not found\n") == "HTTP 404: 404 page not found"
    long = b'{"detail":  "' + b"x" * 500 + b'"}'
    assert naming_the_answer("HTTP 400", long) == 'HTTP 400: {"detail": "' + "x" * 68
    # Expected kinds keep one row each in Locust's report, whatever their bodies say.
    assert naming_the_answer("shed: 503 (queue full)", b"busy") == "shed: 503 (queue full)"
    assert naming_the_answer("HTTP 502", b"") == "HTTP 502"
