"""Request bodies and answer checks for `/v1/predict` and the Open Inference Protocol.

A check returns an `Outcome`: `error` set means the request failed (wrong status, shed,
malformed answer); `wrong` counts rows whose label differs from the held-out one, which is
the model's accuracy, not the service's health, so it is reported apart from failures.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any

# The served model's name (GET /v2/models/... or /info); the default model's by default.
MODEL_NAME = os.environ.get("MODEL_NAME", "digits-mlp")
V1_PATH = "/v1/predict"
V2_PATH = f"/v2/models/{MODEL_NAME}/infer"
# Locust stats name of the binary task: same path, its own row in the report.
V2_BINARY_NAME = V2_PATH + " (binary)"
LABELS = 10
# The binary tensor data extension: the JSON header's length travels in this header.
HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    wrong: int = 0


def v1_body(inputs: list[list[float]]) -> dict[str, Any]:
    return {"inputs": inputs}


def v2_body(inputs: list[list[float]]) -> dict[str, Any]:
    flat = [x for row in inputs for x in row]
    return {
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(inputs), len(inputs[0])],
                "datatype": "FP32",
                "data": flat,
            }
        ]
    }


def v2_binary_body(inputs: list[list[float]]) -> tuple[bytes, dict[str, str]]:
    """The same tensor as raw little-endian FP32 after a JSON header, every output binary.

    struct, not numpy: the loadtest image carries Locust alone.
    """
    flat = [x for row in inputs for x in row]
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [len(inputs), len(inputs[0])],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 4 * len(flat)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    body = header + struct.pack(f"<{len(flat)}f", *flat)
    return body, {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}


def check_v2_binary(
    status: int, content: bytes, header_length: str | None, expected: list[str]
) -> Outcome:
    """A binary answer: JSON header, then FP32 probabilities and length-prefixed labels."""
    if (error := check_status(status)) is not None:
        return Outcome(error=error)
    if header_length is None or not header_length.isdigit():
        return Outcome(error=f"malformed: no {HEADER_LENGTH} response header")
    split = int(header_length)
    try:
        header = json.loads(content[:split])
        sizes = {o["name"]: o["parameters"]["binary_data_size"] for o in header["outputs"]}
        order = [o["name"] for o in header["outputs"]]
    except (ValueError, KeyError, TypeError):
        return Outcome(error="malformed: binary answer's JSON header")
    n = len(expected)
    if order != ["probabilities", "label"] or sizes["probabilities"] != 4 * n * LABELS:
        return Outcome(error=f"malformed: binary outputs {sizes} for {n} rows")
    raw = content[split:]
    if len(raw) != sizes["probabilities"] + sizes["label"]:
        return Outcome(error=f"malformed: {len(raw)} binary bytes, header says {sizes}")
    labels = _bytes_elements(raw[sizes["probabilities"] :])
    if labels is None or len(labels) != n:
        return Outcome(error=f"malformed: 'label' output is not {n} strings")
    return Outcome(wrong=_count_wrong(labels, expected))


def _bytes_elements(raw: bytes) -> list[str] | None:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes."""
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


def check_status(status: int) -> str | None:
    if status == 200:
        return None
    if status == 503:
        return "shed: 503 (queue full)"
    if status == 504:
        return "deadline: 504"
    if status == 0:
        return "no response (connection error)"
    return f"HTTP {status}"


def check_v1(status: int, body: Any, expected: list[str]) -> Outcome:
    if (error := check_status(status)) is not None:
        return Outcome(error=error)
    if not isinstance(body, dict):
        return Outcome(error="malformed: body is not a JSON object")
    labels, outputs = body.get("labels"), body.get("outputs")
    if not _is_list_of(labels, str, len(expected)):
        return Outcome(error=f"malformed: 'labels' is not {len(expected)} strings")
    if not isinstance(outputs, list) or len(outputs) != len(expected):
        return Outcome(error=f"malformed: 'outputs' is not {len(expected)} rows")
    for row in outputs:
        if not _is_list_of(row, (int, float), LABELS):
            return Outcome(error=f"malformed: an output row is not {LABELS} numbers")
    return Outcome(wrong=_count_wrong(labels or [], expected))


def check_v2(status: int, body: Any, expected: list[str]) -> Outcome:
    if (error := check_status(status)) is not None:
        return Outcome(error=error)
    if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
        return Outcome(error="malformed: no 'outputs' list")
    if body.get("model_name") != MODEL_NAME:
        return Outcome(error=f"malformed: model_name {body.get('model_name')!r}")
    by_name = {o.get("name"): o for o in body["outputs"] if isinstance(o, dict)}
    probs, label = by_name.get("probabilities"), by_name.get("label")
    n = len(expected)
    if probs is None or probs.get("shape") != [n, LABELS]:
        return Outcome(error=f"malformed: 'probabilities' output is not shape [{n}, {LABELS}]")
    if not _is_list_of(probs.get("data"), (int, float), n * LABELS):
        return Outcome(error=f"malformed: 'probabilities' data is not {n * LABELS} numbers")
    if label is None or label.get("shape") != [n] or not _is_list_of(label.get("data"), str, n):
        return Outcome(error=f"malformed: 'label' output is not {n} strings")
    return Outcome(wrong=_count_wrong(label["data"], expected))


def _is_list_of(value: Any, kind: type | tuple[type, ...], length: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == length
        and all(isinstance(x, kind) and not isinstance(x, bool) for x in value)
    )


def _count_wrong(got: list[str], expected: list[str]) -> int:
    return sum(g != e for g, e in zip(got, expected, strict=True))
