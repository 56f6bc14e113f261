"""Tensor values of every protocol datatype, from JSON or binary to numpy and back.

Each check names the tensor and what is wrong, as an `InputError` (400): booleans are not
numbers, floats are not integers, integers must fit their type, floats must be finite.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from service.inference.tensors import DTYPES
from service.protocol import oip_binary
from service.protocol.errors import InputError

FLOATS = ("FP16", "FP32", "FP64")


def from_json(data: Any, datatype: str, name: str, shape: list[int], scan: bool) -> np.ndarray:
    """'data' (flat or row-major nested) -> a flat array filling `shape` with `datatype`.

    `scan`: the body may hold JSON booleans, which numpy would silently take as 1/0.
    """
    count = math.prod(shape)
    if not isinstance(data, list):
        kind = "strings" if datatype == "BYTES" else "numbers"
        raise InputError(400, f"input {name!r}: 'data' must be a list of {kind}")
    if datatype == "BYTES":
        flat = np.empty(count, dtype=object)
        values = _flatten(data)
        if len(values) != count or not all(isinstance(v, str) for v in values):
            raise InputError(400, f"input {name!r}: 'data' must hold {count} strings")
        flat[:] = values
        return flat
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.array(data).reshape(-1)
    except (ValueError, TypeError, OverflowError):
        raise InputError(
            400, f"input {name!r}: 'data' must be a flat or row-major nested list of values"
        ) from None
    if array.size != count:
        raise InputError(400, f"input {name!r}: {array.size} values do not fill shape {shape}")
    if datatype == "BOOL":
        if array.dtype.kind != "b":
            raise InputError(400, f"input {name!r}: 'data' must hold only true/false (BOOL)")
        return array
    if array.dtype.kind not in "iuf" or (scan and _holds_bool(data)):
        raise InputError(400, f"input {name!r}: 'data' must hold only numbers")
    if array.dtype.kind == "f" and datatype not in FLOATS and _only_ints(data):
        # numpy makes float64 of ints beside one of 2**63 or more: exact in the datatype again.
        try:
            array = np.array(data, dtype=DTYPES[datatype]).reshape(-1)
        except OverflowError:
            raise InputError(
                400, f"input {name!r}: a value is outside {datatype}'s range"
            ) from None
    return to_numeric(array, datatype, name)


def to_numeric(array: np.ndarray, datatype: str, name: str) -> np.ndarray:
    """Numbers -> `datatype`: floats finite, integers whole and in range."""
    dtype = DTYPES[datatype]
    if datatype in FLOATS:
        with np.errstate(over="ignore", invalid="ignore"):
            values = array.astype(dtype, copy=False)
        if not np.isfinite(values).all():
            bad = int(np.argwhere(~np.isfinite(values))[0][0])
            raise InputError(400, f"input {name!r}: value {bad} is not a finite {dtype.name}")
        return values
    if array.dtype.kind == "f":
        raise InputError(400, f"input {name!r}: {datatype} takes whole numbers, got decimals")
    info = np.iinfo(dtype)
    if array.size and (array.min() < info.min or array.max() > info.max):
        raise InputError(400, f"input {name!r}: a value is outside {datatype}'s range")
    return array.astype(dtype, copy=False)


def binary_size(datatype: str, count: int) -> int | None:
    """Bytes of `count` values on the wire; None for BYTES (each element carries its length)."""
    return None if datatype == "BYTES" else count * DTYPES[datatype].itemsize


def from_binary(raw: memoryview, datatype: str, name: str, count: int) -> np.ndarray:
    """One input's binary part (exactly its bytes) -> a flat array."""
    if datatype == "BYTES":
        return _bytes_elements(raw, name, count)
    values = np.frombuffer(raw, dtype=DTYPES[datatype].newbyteorder("<"), count=count)
    if datatype == "BOOL":
        if not set(raw.tobytes()) <= {0, 1}:
            raise InputError(400, f"input {name!r}: BOOL bytes must be 0 or 1")
        return values
    if datatype in FLOATS:
        return to_numeric(values, datatype, name)
    return values


def to_wire(values: Any, datatype: str, binary: bool) -> tuple[Any, bytes]:
    """An output's JSON 'data' (flat) or its binary bytes."""
    if datatype == "BYTES":
        texts = [_text(v) for v in np.asarray(values, dtype=object).reshape(-1)]
        return (None, oip_binary.bytes_tensor(texts)) if binary else (texts, b"")
    array = np.asarray(values).reshape(-1)
    if binary:
        return None, array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return array, b""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes_elements(raw: memoryview, name: str, count: int) -> np.ndarray:
    flat = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + 4 > len(raw):
            raise InputError(400, f"input {name!r}: BYTES element {i} is truncated")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InputError(400, f"input {name!r}: BYTES element {i} is truncated")
        try:
            flat[i] = bytes(raw[offset : offset + length]).decode()
        except UnicodeDecodeError:
            raise InputError(400, f"input {name!r}: BYTES element {i} is not UTF-8") from None
        offset += length
    if offset != len(raw):
        raise InputError(400, f"input {name!r}: {len(raw) - offset} bytes after {count} elements")
    return flat


def _holds_bool(data: list[Any]) -> bool:
    """True/false at any depth: a tensor's data may nest deeper than rows."""
    return any(type(v) is bool or (type(v) is list and _holds_bool(v)) for v in data)


def _only_ints(data: list[Any]) -> bool:
    return all(type(v) is int for v in _flatten(data))


def _flatten(data: list[Any]) -> list[Any]:
    if all(not isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    for value in data:
        out.extend(_flatten(value) if isinstance(value, list) else [value])
    return out
