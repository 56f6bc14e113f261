"""`/v1/predict` decoding as plain functions: bytes in, float32 rows or a named 4xx out."""

from __future__ import annotations

import numpy as np
import pytest

from service.protocol import rows
from service.protocol.errors import InputError


def test_only_numbers_spots_what_float32_would_swallow() -> None:
    assert rows.only_numbers(b'{"inputs": [[1, 2.5e3]]}')
    for bad in (b'{"inputs": [["1.5"]]}', b'{"inputs": [[null]]}', b'{"inputs": [[true]]}'):
        assert not rows.only_numbers(bad)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"[" * 24 + b"]" * 24, None),  # 2 x 4 rows + 16 = 24 allowed: left to the decoder
        (b"[" * 25 + b"]" * 25, "JSON lists/objects"),
        (b"[[" + b"0," * 55 + b"0]]", None),  # 2 x (16 + 4) + 16 = 56 values allowed
        (b"[[" + b"0," * 56 + b"0]]", "JSON values"),
    ],
)
def test_structure_beyond_the_rows_is_refused_before_parsing(
    data: bytes, words: str | None
) -> None:
    if words is None:
        rows.check_structure(data, max_rows=4, max_values=16)
        return
    with pytest.raises(InputError, match=words) as refused:
        rows.check_structure(data, max_rows=4, max_values=16)
    assert refused.value.status == 413


def test_a_valid_body_decodes_to_float32_rows() -> None:
    body = b'{"inputs": [[1, 2.5], [3, -4]]}'
    batch = rows.decode_predict(rows.parse_json(body), 2, 4, scan_bools=False, numbers_only=True)
    assert batch.dtype == np.float32
    assert batch.tolist() == [[1.0, 2.5], [3.0, -4.0]]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"inputs": [[NaN, 1]]}', 400, "NaN and Infinity"),
        (b"[[1, 2]]", 422, "must be a JSON object"),
        (b'{"rows": [[1, 2]]}', 422, "unknown field"),
        (b"{}", 422, "missing field 'inputs'"),
        (b'{"inputs": []}', 422, "is empty"),
        (b'{"inputs": [1, 2]}', 422, "wrap a single row"),
        (b'{"inputs": [[1, 2], [3]]}', 422, "ragged or mixed"),
        (b'{"inputs": [[1, 2, 3]]}', 422, "must have 2 numbers, got 3"),
        (b'{"inputs": [["a", "b"]]}', 422, "only numbers"),
        (b'{"inputs": [[true, 1]]}', 422, "booleans"),
        (b'{"inputs": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 0]]}', 422, "at most 4 per request"),
        (b'{"inputs": [[1e39, 2]]}', 422, "row 0 has a value that is not a finite float32"),
        (b'{"inputs": [[[1], [2]]]}', 422, "3-level nesting"),
    ],
)
def test_bad_bodies_are_refused_naming_the_problem(body: bytes, status: int, words: str) -> None:
    with pytest.raises(InputError, match=words) as refused:
        rows.decode_predict(rows.parse_json(body), 2, 4, scan_bools=rows.may_hold_bools(body))
    assert refused.value.status == status


def test_argmax_labels_names_each_rows_best_output() -> None:
    outputs = np.array([[0.1, 0.9], [0.8, 0.2]], np.float32)
    assert rows.argmax_labels(outputs, ["cat", "dog"]) == ["dog", "cat"]
    assert rows.argmax_labels(outputs, []) == []


def test_encode_writes_numpy_arrays_as_json() -> None:
    assert rows.encode({"outputs": np.array([[1.5]], np.float32)}) == b'{"outputs":[[1.5]]}'
