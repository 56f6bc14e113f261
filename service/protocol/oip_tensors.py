"""Open Inference Protocol infer requests and answers, checked against the model's metadata.

Every input the model declares, by name, in its datatype (service/protocol/datatypes.py);
JSON tensors and binary tensors decode to the same arrays, which then take the same path
(engine, encoding) whatever the wire form was. A rows model's batch is its one array, a
tensor model's the arrays in its inputs' order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.inference.loaded import LoadedModel
from service.inference.tensors import TensorSpec
from service.protocol import datatypes, oip_binary
from service.protocol.errors import InputError

# Extensions this server does not offer; a request using them is refused by name.
UNSUPPORTED_PARAMETERS = {
    "shared_memory_region": "the shared memory extension",
    "classification": "the classification extension",
}
TENSOR_FIELDS = (
    "input tensor needs 'name', 'shape', 'datatype' and 'data' (or parameters.binary_data_size)"
)


def metadata(model: LoadedModel) -> dict[str, Any]:
    """Model metadata: the one description both the metadata route and the checks use."""
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": model.platform,
        "inputs": [spec.metadata() for spec in model.inputs],
        "outputs": [spec.metadata() for spec in model.outputs],
    }


@dataclass(frozen=True)
class Decoded:
    rows: Any  # a rows model's float32 [n, d]; a tensor model's arrays in input order
    outputs: list[tuple[str, bool]]  # requested output names, each with "send as binary"
    request_id: str | None


def decode(
    payload: Any, tail: memoryview, binary: bool, model: LoadedModel, max_rows: int, scan: bool
) -> Decoded:
    """One infer request (JSON header + binary part) -> the model's batch and the outputs.

    `scan`: the body may hold JSON booleans, which numpy would silently take as 1/0.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InputError(400, "body must be an object with 'inputs': [tensors]")
    inputs = payload["inputs"]
    names = [spec.name for spec in model.inputs]
    if len(inputs) != len(names):
        what = "exactly one input tensor" if len(names) == 1 else f"{len(names)} input tensors"
        raise InputError(400, f"expected {what} ({', '.join(map(repr, names))}), got {len(inputs)}")
    by_name: dict[str, np.ndarray] = {}
    offset = 0
    rows: int | None = None
    for i, tensor in enumerate(inputs):
        spec, shape = _check_header(tensor, i, model, max_rows)
        if spec.name in by_name:
            raise InputError(400, f"input {spec.name!r} is given twice")
        if rows is not None and shape[0] != rows:
            raise InputError(
                400, f"input {spec.name!r} has {shape[0]} rows; the inputs before it {rows}"
            )
        rows = shape[0]
        flat, offset = _values(tensor, spec.name, spec.datatype, shape, tail, offset, binary, scan)
        by_name[spec.name] = flat.reshape(shape)
    oip_binary.check_consumed(tail, offset)
    request_id = payload.get("id")
    wanted = _outputs(payload, model)
    request_id = request_id if isinstance(request_id, str) else None
    if not model.tensors:
        return Decoded(by_name[names[0]], wanted, request_id)
    return Decoded(tuple(by_name[name] for name in names), wanted, request_id)


def _check_header(
    tensor: Any, index: int, model: LoadedModel, max_rows: int
) -> tuple[TensorSpec, list[int]]:
    if not isinstance(tensor, dict) or not {"name", "shape", "datatype"} <= set(tensor):
        raise InputError(400, TENSOR_FIELDS)
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    specs = {spec.name: spec for spec in model.inputs}
    if not isinstance(name, str) or name not in specs:
        raise InputError(
            400, f"inputs[{index}].name: unknown input {name!r}; this model has {list(specs)}"
        )
    spec = specs[name]
    if datatype != spec.datatype:
        raise InputError(400, f"input {name!r}: datatype must be {spec.datatype}, got {datatype!r}")
    rank_ok = isinstance(shape, list) and len(shape) == len(spec.shape)
    if (
        not rank_ok
        or not all(type(v) is int for v in shape)
        or any(want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True))
        or shape[0] < 1
        or min(shape) < 0
    ):
        raise InputError(
            400,
            f"input {name!r}: shape must be {_shape_text(spec)} with rows >= 1"
            f" (metadata: {list(spec.shape)}), got {shape!r}",
        )
    if shape[0] > max_rows:
        raise InputError(400, f"input {name!r}: {shape[0]} rows; at most {max_rows} per request")
    return spec, shape


def _shape_text(spec: TensorSpec) -> str:
    axes = ["rows", *("any" if a < 0 else str(a) for a in spec.row_shape)]
    return "[" + ", ".join(axes) + "]"


def _values(
    tensor: dict[str, Any],
    name: str,
    datatype: str,
    shape: list[int],
    tail: memoryview,
    offset: int,
    binary: bool,
    scan: bool,
) -> tuple[np.ndarray, int]:
    """The tensor's flat values, and the binary part's offset after them."""
    parameters = _parameters(tensor, f"input {name!r}")
    count = math.prod(shape)
    if "binary_data_size" not in parameters:
        if "data" not in tensor:
            raise InputError(400, TENSOR_FIELDS)
        return datatypes.from_json(tensor["data"], datatype, name, shape, scan), offset
    if not binary:
        raise InputError(
            400,
            f"input {name!r} has parameters.binary_data_size but the request has no"
            " Inference-Header-Content-Length header",
        )
    if "data" in tensor:
        raise InputError(
            400, f"input {name!r}: send 'data' or parameters.binary_data_size, not both"
        )
    size = parameters["binary_data_size"]
    expected = datatypes.binary_size(datatype, count)
    if type(size) is not int or size < 0 or (expected is not None and size != expected):
        item = f"{expected // max(count, 1)}-byte " if expected is not None else ""
        want = (
            f"{expected} (shape {shape} of {item}{datatype})" if expected is not None else "bytes"
        )
        raise InputError(
            400, f"input {name!r}: parameters.binary_data_size must be {want}, got {size!r}"
        )
    raw = oip_binary.take(tail, offset, size, name)
    return datatypes.from_binary(raw, datatype, name, count), offset + size


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


def _outputs(payload: dict[str, Any], model: LoadedModel) -> list[tuple[str, bool]]:
    request_parameters = payload.get("parameters") or {}
    if not isinstance(request_parameters, dict):
        raise InputError(400, "request 'parameters' must be an object")
    default_binary = request_parameters.get("binary_data_output", False)
    if type(default_binary) is not bool:
        raise InputError(400, "parameters.binary_data_output must be true or false")
    known = [spec.name for spec in model.outputs]
    wanted = payload.get("outputs") or [{"name": n} for n in known]
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise InputError(400, "'outputs' must be a list of {\"name\": ...}")
    names = [o.get("name") for o in wanted]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(400, f"unknown output(s) {unknown}; this model has {known}")
    chosen: list[tuple[str, bool]] = []
    for output in wanted:
        name = output["name"]
        binary = _parameters(output, f"output {name!r}").get("binary_data", default_binary)
        if type(binary) is not bool:
            raise InputError(400, f"output {name!r}: parameters.binary_data must be true or false")
        chosen.append((name, binary))
    return chosen


def encode(
    model: LoadedModel, result: Any, wanted: list[tuple[str, bool]], request_id: str
) -> tuple[dict[str, Any], list[bytes]]:
    """The answer's JSON header and the binary parts that follow it, in output order."""
    values = model.named_outputs(result, [name for name, _ in wanted])
    datatypes_of = {spec.name: spec.datatype for spec in model.outputs}
    tensors: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for name, binary in wanted:
        datatype = datatypes_of[name]
        array = values[name]
        shape = list(np.shape(array))
        data, raw = datatypes.to_wire(array, datatype, binary)
        tensor: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        if binary:
            parts.append(raw)
            tensor["parameters"] = {"binary_data_size": len(raw)}
        else:
            tensor["data"] = data
        tensors.append(tensor)
    header = {
        "model_name": model.name,
        "model_version": model.version,
        "id": request_id,
        "outputs": tensors,
    }
    return header, parts
