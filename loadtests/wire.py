"""Request bodies for `/v1/predict` and the Open Inference Protocol, built from a Batch.

struct, not numpy, for the binary tensors: the loadtest image carries Locust alone.
"""

from __future__ import annotations

import json
import struct
from typing import Any
from urllib.parse import quote

from loadtests.model import STRUCT_CODES, Model
from loadtests.samples import Batch, flatten

V1_PATH = "/v1/predict"
# The binary tensor data extension: the JSON header's length travels in this header.
HEADER_LENGTH = "Inference-Header-Content-Length"


def v2_path(model: Model) -> str:
    return f"/v2/models/{quote(model.name, safe='')}/infer"


def v1_body(model: Model, batch: Batch) -> dict[str, Any]:
    """The rows of the model's one input (only a model that `takes_v1`)."""
    return {"inputs": batch.inputs[model.inputs[0].name]}


def _shape(rows: list[Any]) -> list[int]:
    """[rows, *one row's nested-list shape]: the tensor's shape on the wire."""
    shape, row = [len(rows)], rows[0]
    while isinstance(row, list):
        shape.append(len(row))
        row = row[0] if row else None
    return shape


def v2_body(model: Model, batch: Batch) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": t.name,
                "shape": _shape(batch.inputs[t.name]),
                "datatype": t.datatype,
                "data": flatten(batch.inputs[t.name]),
            }
            for t in model.inputs
        ]
    }


def v2_binary_body(model: Model, batch: Batch) -> tuple[bytes, dict[str, str]]:
    """The same tensors raw after a JSON header, every output asked for binary too."""
    tensors, parts = [], []
    for t in model.inputs:
        raw = pack(t.datatype, flatten(batch.inputs[t.name]))
        parts.append(raw)
        tensors.append(
            {
                "name": t.name,
                "shape": _shape(batch.inputs[t.name]),
                "datatype": t.datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
        )
    header = json.dumps({"inputs": tensors, "parameters": {"binary_data_output": True}}).encode()
    body = b"".join([header, *parts])
    return body, {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}


def pack(datatype: str, values: list[Any]) -> bytes:
    """Little-endian elements; BYTES as 4-byte little-endian lengths, each before its bytes."""
    if datatype == "BYTES":
        encoded = [v.encode() for v in values]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    return struct.pack(f"<{len(values)}{STRUCT_CODES[datatype]}", *values)


def unpack(datatype: str, raw: bytes) -> list[Any] | None:
    """The elements of a binary tensor; None when the bytes do not divide into them."""
    if datatype == "BYTES":
        return _bytes_elements(raw)
    size = struct.calcsize("<" + STRUCT_CODES[datatype])
    if len(raw) % size:
        return None
    return list(struct.unpack(f"<{len(raw) // size}{STRUCT_CODES[datatype]}", raw))


def _bytes_elements(raw: bytes) -> list[str] | None:
    values: list[str] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            return None
        (size,) = struct.unpack_from("<I", raw, offset)
        end = offset + 4 + size
        if end > len(raw):
            return None
        values.append(raw[offset + 4 : end].decode(errors="replace"))
        offset = end
    return values
