"""service/protocol/datatypes.py: tensor values of every protocol datatype from JSON and from
binary to numpy, each refusal a 400 naming the tensor and the problem, and back to the wire."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest

from service.protocol.datatypes import binary_size, from_binary, from_json, to_wire
from service.protocol.errors import InputError


def refusal(call: Any, *args: Any) -> str:
    """The message of the 400 InputError `call(*args)` raises."""
    with pytest.raises(InputError) as refused:
        call(*args)
    assert refused.value.status == 400
    return refused.value.message


# --- from JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "datatype", "dtype"),
    [
        ([1.5, -2, 0], "FP16", np.float16),
        ([1.5, -2, 0], "FP32", np.float32),
        ([1.5, -2, 0], "FP64", np.float64),
        ([1, -2, 0], "INT8", np.int8),
        ([1, -2, 0], "INT32", np.int32),
        ([1, -2, 2**62], "INT64", np.int64),
        ([0, 255, 7], "UINT8", np.uint8),
        ([0, 2**64 - 1, 7], "UINT64", np.uint64),
        ([True, False, True], "BOOL", np.bool_),
    ],
)
def test_json_numbers_decode_to_the_datatypes_dtype_exactly(
    data: list[Any], datatype: str, dtype: type
) -> None:
    array = from_json(data, datatype, "x", [3], scan=True)

    assert array.dtype == np.dtype(dtype)
    assert array.tolist() == data


@pytest.mark.parametrize(
    ("data", "datatype", "words"),
    [
        ([1.0, 70000.0], "FP16", "value 1 is not a finite float16"),
        ([1.0, 2.0, 1e39, 1e39], "FP32", "value 2 is not a finite float32"),
        ([math.inf, 1.0], "FP64", "value 0 is not a finite float64"),
        ([math.nan, 1.0], "FP32", "value 0 is not a finite float32"),
    ],
)
def test_floats_must_be_finite_in_their_type_naming_the_first_bad_index(
    data: list[float], datatype: str, words: str
) -> None:
    message = refusal(from_json, data, datatype, "x", [len(data)], True)

    assert message == f"input 'x': {words}"


@pytest.mark.parametrize(
    ("data", "datatype", "words"),
    [
        ([1, 2.5], "INT64", "INT64 takes whole numbers, got decimals"),
        ([1, 2.0], "INT32", "INT32 takes whole numbers, got decimals"),
        ([2**31, 0], "INT32", "a value is outside INT32's range"),
        ([-(2**31) - 1, 0], "INT32", "a value is outside INT32's range"),
        ([2**63, 0], "INT64", "a value is outside INT64's range"),
        ([-1, 2**63], "UINT64", "a value is outside UINT64's range"),
        ([2**63, 0.5], "UINT64", "UINT64 takes whole numbers, got decimals"),
        ([256, 0], "UINT8", "a value is outside UINT8's range"),
        ([-1, 0], "UINT8", "a value is outside UINT8's range"),
        ([-129, 0], "INT8", "a value is outside INT8's range"),
    ],
)
def test_integers_must_be_whole_and_fit_their_type(
    data: list[float], datatype: str, words: str
) -> None:
    message = refusal(from_json, data, datatype, "ids", [2], True)

    assert message == f"input 'ids': {words}"


@pytest.mark.parametrize("data", [[1, 0], [True, 1], ["true", "false"]])
def test_bool_takes_only_true_and_false(data: list[Any]) -> None:
    message = refusal(from_json, data, "BOOL", "flags", [2], True)

    assert message == "input 'flags': 'data' must hold only true/false (BOOL)"


@pytest.mark.parametrize(
    ("data", "datatype"),
    [
        ([1, True, 3, 4], "FP32"),
        ([[1, 2], [False, 4]], "INT64"),
        ([[[1, 2], [3, True]]], "FP32"),  # nested deeper than rows
        ([[[[1]], [[True]]], [[[3]], [[4]]]], "INT32"),
    ],
    ids=["flat", "rows", "rank-3", "rank-4"],
)
def test_booleans_among_numbers_are_refused_when_the_body_may_hold_them(
    data: list[Any], datatype: str
) -> None:
    message = refusal(from_json, data, datatype, "x", [4], True)

    assert message == "input 'x': 'data' must hold only numbers"


@pytest.mark.parametrize("data", [[True, False], ["1", "2"], [None, 1]], ids=str)
def test_numbers_refuse_booleans_strings_and_nulls_whatever_the_scan(data: list[Any]) -> None:
    message = refusal(from_json, data, "FP32", "x", [2], False)

    assert message == "input 'x': 'data' must hold only numbers"


def test_nested_data_decodes_as_its_flat_row_major_form() -> None:
    nested = from_json([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], "INT64", "x", [2, 2, 2], True)
    flat = from_json([1, 2, 3, 4, 5, 6, 7, 8], "INT64", "x", [2, 2, 2], True)

    assert nested.shape == flat.shape == (8,)
    assert nested.tolist() == flat.tolist() == list(range(1, 9))


@pytest.mark.parametrize("datatype", ["FP32", "INT64", "BOOL"])
def test_a_value_count_that_does_not_fill_the_shape_is_refused_naming_it(datatype: str) -> None:
    data = [True, False, True] if datatype == "BOOL" else [1, 2, 3]

    message = refusal(from_json, data, datatype, "x", [2, 2], True)

    assert message == "input 'x': 3 values do not fill shape [2, 2]"


def test_ragged_rows_are_refused_as_not_row_major() -> None:
    message = refusal(from_json, [[1, 2], [3]], "FP32", "x", [3], True)

    assert message == "input 'x': 'data' must be a flat or row-major nested list of values"


@pytest.mark.parametrize(("datatype", "kind"), [("FP32", "numbers"), ("BYTES", "strings")])
def test_data_that_is_not_a_list_is_refused_naming_what_it_must_hold(
    datatype: str, kind: str
) -> None:
    message = refusal(from_json, "abc", datatype, "x", [1], True)

    assert message == f"input 'x': 'data' must be a list of {kind}"


def test_bytes_take_strings_flat_or_nested_as_python_strings() -> None:
    flat = from_json(["a", "é", ""], "BYTES", "words", [3], False)
    nested = from_json([["a", "é"], ["b", "c"]], "BYTES", "words", [2, 2], False)

    assert flat.dtype == object and flat.tolist() == ["a", "é", ""]
    assert nested.tolist() == ["a", "é", "b", "c"]


@pytest.mark.parametrize(
    "data", [["a", 1], ["a", None], ["a", True], ["a"], ["a", "b", "c"]], ids=str
)
def test_bytes_take_only_as_many_strings_as_the_shape_holds(data: list[Any]) -> None:
    message = refusal(from_json, data, "BYTES", "words", [2], True)

    assert message == "input 'words': 'data' must hold 2 strings"


# --- from binary -------------------------------------------------------------------------


def test_binary_int64_is_read_little_endian() -> None:
    raw = memoryview(struct.pack("<3q", 1, -2, 2**40))

    assert from_binary(raw, "INT64", "ids", 3).tolist() == [1, -2, 2**40]


def test_binary_fp64_is_read_little_endian() -> None:
    values = from_binary(memoryview(struct.pack("<2d", 1.5, -0.25)), "FP64", "x", 2)

    assert values.dtype.kind == "f" and values.itemsize == 8
    assert values.tolist() == [1.5, -0.25]


def test_binary_floats_must_be_finite_naming_the_index() -> None:
    raw = memoryview(struct.pack("<3f", 1.0, 2.0, math.nan))

    assert refusal(from_binary, raw, "FP32", "x", 3) == "input 'x': value 2 is not a finite float32"


def test_binary_bool_reads_bytes_0_and_1() -> None:
    assert from_binary(memoryview(b"\x01\x00\x01"), "BOOL", "f", 3).tolist() == [True, False, True]


def test_binary_bool_refuses_any_other_byte() -> None:
    message = refusal(from_binary, memoryview(b"\x01\x02"), "BOOL", "f", 2)

    assert message == "input 'f': BOOL bytes must be 0 or 1"


def bytes_elements(*elements: bytes) -> memoryview:
    return memoryview(b"".join(struct.pack("<I", len(e)) + e for e in elements))


def test_binary_bytes_are_length_prefixed_utf8_elements() -> None:
    raw = bytes_elements("héllo".encode(), b"", b"x")

    values = from_binary(raw, "BYTES", "words", 3)

    assert values.dtype == object and values.tolist() == ["héllo", "", "x"]


@pytest.mark.parametrize(
    ("raw", "count", "words"),
    [
        (bytes_elements(b"ab")[:-1], 1, "BYTES element 0 is truncated"),  # its bytes
        (memoryview(bytes(bytes_elements(b"ab")) + b"\x01\x00"), 2, "BYTES element 1 is truncated"),
        (memoryview(bytes(bytes_elements(b"ab")) + b"zz"), 1, "2 bytes after 1 elements"),
        (bytes_elements(b"ok", b"\xff\xfe"), 2, "BYTES element 1 is not UTF-8"),
    ],
    ids=["short-element", "short-prefix", "extra-bytes", "not-utf8"],
)
def test_binary_bytes_refuse_a_malformed_part_naming_the_element(
    raw: memoryview, count: int, words: str
) -> None:
    assert refusal(from_binary, raw, "BYTES", "words", count) == f"input 'words': {words}"


def test_binary_size_is_values_times_itemsize_and_unknown_for_bytes() -> None:
    assert (binary_size("FP32", 3), binary_size("INT64", 2), binary_size("BOOL", 5)) == (12, 16, 5)
    assert binary_size("BYTES", 3) is None


# --- to the wire -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "datatype", "packed"),
    [
        (np.array([[1.5, -2.0]], np.float32), "FP32", struct.pack("<2f", 1.5, -2.0)),
        (np.array([[7], [-8]], np.int64), "INT64", struct.pack("<2q", 7, -8)),
        (np.array([7, -8], np.dtype(">i8")), "INT64", struct.pack("<2q", 7, -8)),
    ],
    ids=["fp32", "int64", "int64-big-endian"],
)
def test_numeric_outputs_go_as_flat_json_data_or_little_endian_bytes(
    values: np.ndarray, datatype: str, packed: bytes
) -> None:
    data, no_bytes = to_wire(values, datatype, binary=False)
    no_data, raw = to_wire(values, datatype, binary=True)

    assert isinstance(data, np.ndarray) and data.shape == (2,)
    assert data.tolist() == values.reshape(-1).tolist() and no_bytes == b""
    assert no_data is None and raw == packed


def test_bytes_outputs_go_as_json_strings_or_length_prefixed_elements() -> None:
    values = np.array([["héllo"], [b"raw"]], dtype=object)

    data, no_bytes = to_wire(values, "BYTES", binary=False)
    no_data, raw = to_wire(values, "BYTES", binary=True)

    assert data == ["héllo", "raw"] and no_bytes == b""
    assert no_data is None and raw == bytes(bytes_elements("héllo".encode(), b"raw"))
