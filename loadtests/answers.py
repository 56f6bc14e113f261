"""Request bodies and answer checks for `/v1/predict` and the Open Inference Protocol.

A check returns an `Outcome`: `error` set means the request failed (wrong status, shed,
malformed answer); `wrong` counts rows whose label differs from the held-out one, which is
the model's accuracy, not the service's health, so it is reported apart from failures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# The served model's name (GET /v2/models/... or /info); the default model's by default.
MODEL_NAME = os.environ.get("MODEL_NAME", "digits-mlp")
V1_PATH = "/v1/predict"
V2_PATH = f"/v2/models/{MODEL_NAME}/infer"
LABELS = 10


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
