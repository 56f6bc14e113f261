"""Open Inference Protocol infer requests and answers, checked against the model's metadata.

JSON tensors and binary tensors decode to the same float32 rows, which then take the same
path (finite check, engine, encoding) whatever the wire form was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.inference.model import LoadedModel
from service.protocol import oip_binary
from service.protocol.errors import InputError
from service.protocol.rows import argmax_labels, finite_float32, holds_bool

OUTPUT_NAMES = ("probabilities", "label")
# Extensions this server does not offer; a request using them is refused by name.
UNSUPPORTED_PARAMETERS = {
    "shared_memory_region": "the shared memory extension",
    "classification": "the classification extension",
}


def metadata(model: LoadedModel) -> dict[str, Any]:
    """Model metadata: the one description both the metadata route and the checks use."""
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": model.platform,
        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, model.input_dim]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(model.labels) or -1]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }


@dataclass(frozen=True)
class Decoded:
    rows: np.ndarray  # float32 [n, input_dim]
    outputs: list[tuple[str, bool]]  # requested output names, each with "send as binary"
    request_id: str | None


def decode(
    payload: Any, tail: memoryview, binary: bool, model: LoadedModel, max_rows: int, scan: bool
) -> Decoded:
    """One infer request (JSON header + binary part) -> rows and the outputs to send.

    `scan`: the body may hold JSON booleans, which numpy would silently take as 1/0.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InputError(400, "body must be an object with 'inputs': [one tensor]")
    (spec,) = metadata(model)["inputs"]
    inputs = payload["inputs"]
    if len(inputs) != 1:
        raise InputError(
            400, f"expected exactly one input tensor ({spec['name']!r}), got {len(inputs)}"
        )
    tensor = inputs[0]
    name, shape = _check_header(tensor, spec, max_rows)
    parameters = _parameters(tensor, f"input {name!r}")
    if "binary_data_size" in parameters:
        if not binary:
            raise InputError(
                400,
                f"input {name!r} has parameters.binary_data_size but the request has no"
                " Inference-Header-Content-Length header",
            )
        flat = _binary_values(tensor, parameters["binary_data_size"], tail, name, shape)
    else:
        if "data" not in tensor:
            raise InputError(
                400,
                "input tensor needs 'name', 'shape', 'datatype' and 'data'"
                " (or parameters.binary_data_size)",
            )
        oip_binary.check_consumed(tail, 0)
        flat = _json_values(tensor["data"], name, shape, scan)
    try:
        rows = finite_float32(flat.reshape(shape[0], shape[1]), name)
    except InputError as exc:
        raise InputError(400, exc.message) from None
    request_id = payload.get("id")
    return Decoded(rows, _outputs(payload), request_id if isinstance(request_id, str) else None)


def _check_header(tensor: Any, spec: dict[str, Any], max_rows: int) -> tuple[str, list[int]]:
    if not isinstance(tensor, dict) or not {"name", "shape", "datatype"} <= set(tensor):
        raise InputError(
            400,
            "input tensor needs 'name', 'shape', 'datatype' and 'data'"
            " (or parameters.binary_data_size)",
        )
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if name != spec["name"]:
        raise InputError(
            400, f"inputs[0].name: unknown input {name!r}; this model has [{spec['name']!r}]"
        )
    if datatype != spec["datatype"]:
        raise InputError(
            400, f"input {name!r}: datatype must be {spec['datatype']}, got {datatype!r}"
        )
    rank_ok = isinstance(shape, list) and len(shape) == len(spec["shape"])
    if (
        not rank_ok
        or not all(type(v) is int for v in shape)
        or any(want not in (-1, got) for want, got in zip(spec["shape"], shape, strict=True))
        or shape[0] < 1
    ):
        raise InputError(
            400,
            f"input {name!r}: shape must be [rows, {spec['shape'][1]}] with rows >= 1"
            f" (metadata: {spec['shape']}), got {shape!r}",
        )
    if shape[0] > max_rows:
        raise InputError(400, f"input {name!r}: {shape[0]} rows; at most {max_rows} per request")
    return name, shape


def _parameters(tensor: dict[str, Any], what: str) -> dict[str, Any]:
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InputError(400, f"{what}: 'parameters' must be an object")
    for key, extension in UNSUPPORTED_PARAMETERS.items():
        if key in parameters:
            raise InputError(
                400, f"{what}: parameters.{key} needs {extension}, which this server lacks"
            )
    return parameters


def _binary_values(
    tensor: dict[str, Any], size: Any, tail: memoryview, name: str, shape: list[int]
) -> np.ndarray:
    if "data" in tensor:
        raise InputError(
            400, f"input {name!r}: send 'data' or parameters.binary_data_size, not both"
        )
    expected = math.prod(shape) * 4
    if type(size) is not int or size != expected:
        raise InputError(
            400,
            f"input {name!r}: parameters.binary_data_size must be {expected} (shape {shape}"
            f" of 4-byte FP32), got {size!r}",
        )
    flat = oip_binary.take(tail, 0, size, name)
    oip_binary.check_consumed(tail, size)
    return flat


def _json_values(data: Any, name: str, shape: list[int], scan: bool) -> np.ndarray:
    if not isinstance(data, list):
        raise InputError(400, f"input {name!r}: 'data' must be a list of numbers")
    try:
        flat = np.array(data).reshape(-1)
    except (ValueError, TypeError, OverflowError):
        raise InputError(
            400, f"input {name!r}: 'data' must be a flat or row-major nested list of numbers"
        ) from None
    if flat.dtype.kind not in "iuf" or (scan and holds_bool(data)):
        raise InputError(400, f"input {name!r}: 'data' must hold only numbers")
    if flat.size != shape[0] * shape[1]:
        raise InputError(400, f"input {name!r}: {flat.size} values do not fill shape {shape}")
    return flat


def _outputs(payload: dict[str, Any]) -> list[tuple[str, bool]]:
    request_parameters = payload.get("parameters") or {}
    if not isinstance(request_parameters, dict):
        raise InputError(400, "request 'parameters' must be an object")
    default_binary = request_parameters.get("binary_data_output", False)
    if type(default_binary) is not bool:
        raise InputError(400, "parameters.binary_data_output must be true or false")
    wanted = payload.get("outputs") or [{"name": n} for n in OUTPUT_NAMES]
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise InputError(400, "'outputs' must be a list of {\"name\": ...}")
    names = [o.get("name") for o in wanted]
    unknown = [n for n in names if n not in OUTPUT_NAMES]
    if unknown:
        raise InputError(400, f"unknown output(s) {unknown}; this model has {list(OUTPUT_NAMES)}")
    chosen: list[tuple[str, bool]] = []
    for output in wanted:
        name = output["name"]
        binary = _parameters(output, f"output {name!r}").get("binary_data", default_binary)
        if type(binary) is not bool:
            raise InputError(400, f"output {name!r}: parameters.binary_data must be true or false")
        chosen.append((name, binary))
    return chosen


def encode(
    model: LoadedModel, outputs: np.ndarray, wanted: list[tuple[str, bool]], request_id: str
) -> tuple[dict[str, Any], list[bytes]]:
    """The answer's JSON header and the binary parts that follow it, in output order."""
    tensors: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for name, binary in wanted:
        values: Any
        if name == "probabilities":
            tensor: dict[str, Any] = {"name": name, "shape": list(outputs.shape)}
            tensor["datatype"] = "FP32"
            values = outputs.reshape(-1)
            raw = values.astype("<f4").tobytes() if binary else b""
        else:
            tensor = {"name": name, "shape": [outputs.shape[0]], "datatype": "BYTES"}
            values = argmax_labels(outputs, model.labels)
            raw = oip_binary.bytes_tensor(values) if binary else b""
        if binary:
            parts.append(raw)
            tensor["parameters"] = {"binary_data_size": len(raw)}
        else:
            tensor["data"] = values
        tensors.append(tensor)
    header = {
        "model_name": model.name,
        "model_version": model.version,
        "id": request_id,
        "outputs": tensors,
    }
    return header, parts
