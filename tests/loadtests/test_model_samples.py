"""The served model's metadata and the rows sent to it: samples files, generated rows, zeros."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loadtests import samples
from loadtests.model import Model, StartError, parse_metadata


def metadata(inputs: list[Any], outputs: list[Any], name: str = "m") -> dict[str, Any]:
    def tensors(specs: list[Any]) -> list[dict[str, Any]]:
        return [{"name": n, "datatype": d, "shape": s} for n, d, s in specs]

    return {"name": name, "versions": ["1"], "platform": "onnxruntime_onnx",
            "inputs": tensors(inputs), "outputs": tensors(outputs)}  # fmt: skip


DIGITS = parse_metadata(
    metadata(
        [("input-0", "FP32", [-1, 64])],
        [("probabilities", "FP32", [-1, 10]), ("label", "BYTES", [-1])],
        name="digits-mlp",
    )
)
# Every input kind at once: text, a mask, integer ids with a dynamic axis past the batch.
MIXED = parse_metadata(
    metadata(
        [("text", "BYTES", [-1]), ("mask", "BOOL", [-1, 3]), ("ids", "INT32", [-1, 2, -1])],
        [("scores", "FP64", [-1, 2]), ("class", "INT64", [-1])],
    )
)
NUMERIC = Model("n", MIXED.inputs[1:], MIXED.outputs)


def test_metadata_is_read_as_the_protocol_writes_it() -> None:
    (only,) = DIGITS.inputs
    assert (only.name, only.datatype, only.shape) == ("input-0", "FP32", (-1, 64))
    assert DIGITS.takes_v1 and not MIXED.takes_v1
    assert DIGITS.output("label") is not None and DIGITS.output("nope") is None
    # An answer's shape: the batch filled in, dynamic axes past it left dynamic.
    assert MIXED.inputs[2].batch_shape(4) == [4, 2, -1]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "not an object with a 'name'"),
        (metadata([], [("y", "FP32", [-1])]), "lists no inputs or no outputs"),
        (metadata([("x", "FP8", [-1])], [("y", "FP32", [-1])]), "unknown datatype"),
        (metadata([("x", "FP32", [-1, "64"])], [("y", "FP32", [-1])]), "not a list of ints"),
        (metadata([("x", "FP32", [])], [("y", "FP32", [-1])]), "no batch axis"),
    ],
)
def test_metadata_that_cannot_be_loaded_against_is_refused(doc: Any, message: str) -> None:
    with pytest.raises(StartError, match=message):
        parse_metadata(doc)


def test_a_samples_document_of_every_input_kind() -> None:
    doc = {
        "inputs": {
            "text": ["good", "bad"],
            "mask": [[True, False, True], [False, False, False]],
            "ids": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
        },
        "labels": [1, "0"],
        "label_output": "class",
    }
    rows = samples.from_document(doc, MIXED, "doc")

    assert len(rows) == 2 and rows.labels == ["1", "0"] and rows.label_output == "class"
    batch = rows.batch(1, 2)  # wraps around
    assert batch.inputs["text"] == ["bad", "good"] and batch.labels == ["0", "1"]
    assert batch.inputs["ids"][0] == [[5, 6], [7, 8]] and batch.rows == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inputs": {"input-1": [[0.0] * 64]}}, r"inputs \['input-1'\], but model"),
        ({"inputs": []}, "expected an object"),
        ({"rows": 1}, r"unknown key\(s\) \['rows'\]"),
        ({"inputs": {"input-0": [[0.0] * 63]}}, r"must have shape \[64\]"),
        ({"inputs": {"input-0": [[0.0] * 64, [0.0] * 64 + [1.0]]}}, "row 1 .* not shaped as row 0"),
        ({"inputs": {"input-0": [[True] * 64]}}, "holds True, not FP32"),
        ({"inputs": {"input-0": [[float("nan")] * 64]}}, "holds nan, not FP32"),
        ({"inputs": {"input-0": []}}, "same number"),
        ({"labels": ["0", "1"]}, "one label per row"),
        ({"label_output": "probabilities"}, r"\[-1, 10\] is not one label per row"),
    ],
)
def test_samples_mistakes_are_named(change: dict[str, Any], message: str) -> None:
    doc = {"inputs": {"input-0": [[0.0] * 64]}, "labels": ["0"], **change}
    with pytest.raises(StartError, match=message):
        samples.from_document(doc, DIGITS, "samples.json")


def test_integers_must_be_whole_and_fit_their_type() -> None:
    base = {"mask": [[True, True, True]], "ids": [[[0, 0], [0, 0]]]}
    assert samples.from_document({"inputs": base}, NUMERIC, "d")
    for bad in (1.5, 2**31, True):
        doc = {"inputs": {**base, "ids": [[[0, bad], [0, 0]]]}}
        with pytest.raises(StartError, match="not INT32"):
            samples.from_document(doc, NUMERIC, "d")


def test_labels_need_an_output_to_be_compared_with() -> None:
    doc = {"inputs": {"input-0": [[0.0] * 64]}, "labels": ["0"]}
    two = parse_metadata(metadata([("input-0", "FP32", [-1, 64])], [("a", "INT64", [-1])] * 2))
    with pytest.raises(StartError, match="set 'label_output'"):
        samples.from_document(doc, two, "d")
    assert samples.default_label_output(DIGITS) == "label"
    # Without a `label` output, the one output of rank 1.
    scored = Model("m", DIGITS.inputs, MIXED.outputs)
    assert samples.from_document(doc, scored, "d").label_output == "class"


def test_labels_compare_as_text() -> None:
    assert [samples.label_text(v) for v in (3, 3.0, "3", True, 2.5)] == [
        "3", "3", "3", "true", "2.5",
    ]  # fmt: skip


def test_a_samples_file_is_read_and_its_errors_name_it(tmp_path: Path) -> None:
    path = tmp_path / "samples.json"
    path.write_text(json.dumps({"inputs": {"input-0": [[1.0] * 64]}}))
    assert samples.load(path, DIGITS).labels is None
    path.write_text("{")
    with pytest.raises(StartError, match=f"samples file {path}: not JSON"):
        samples.load(path, DIGITS)
    with pytest.raises(StartError, match="No such file"):
        samples.load(tmp_path / "missing.json", DIGITS)


def test_generated_rows_follow_the_metadata() -> None:
    rows = samples.generated(NUMERIC)

    assert len(rows) == samples.POOL and rows.labels is None
    assert all(len(m) == 3 and all(isinstance(v, bool) for v in m) for m in rows.inputs["mask"])
    # A dynamic axis past the batch gets 1; integers are 0 or 1.
    assert {json.dumps(r) for r in rows.inputs["ids"]} <= {
        json.dumps([[a], [b]]) for a in (0, 1) for b in (0, 1)
    }
    assert samples.generated(NUMERIC) == rows  # seeded: every run sends the same rows
    floats = samples.generated(DIGITS).inputs["input-0"]
    assert len(floats[0]) == 64 and all(isinstance(v, float) for v in floats[0])


def test_text_inputs_cannot_be_generated() -> None:
    with pytest.raises(StartError, match=r"BYTES input\(s\) \['text'\].*SAMPLES_FILE"):
        samples.generated(MIXED)


def test_zeros_are_one_row_of_each_type_zero() -> None:
    rows = samples.zeros(MIXED)

    assert rows.inputs == {"text": [""], "mask": [[False] * 3], "ids": [[[0], [0]]]}
    assert samples.zeros(DIGITS).inputs["input-0"] == [[0.0] * 64]
