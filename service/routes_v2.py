"""Open Inference Protocol v2 (REST): health, server and model metadata, infer."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service import __version__, codec
from service.codec import InputError
from service.model import LoadedModel
from service.openapi_docs import OIP_ERROR_RESPONSES, InferResponse, ModelMetadata, json_body
from service.runtime import Runtime, runtime

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
OUTPUT_NAMES = ("probabilities", "label")


def _model(rt: Runtime, name: str) -> LoadedModel:
    model, _ = rt.serving
    if name != model.name:
        raise InputError(404, f"unknown model {name!r}; this server serves {model.name!r}")
    return model


def decode_infer(
    payload: Any, input_dim: int, max_rows: int, scan_bools: bool
) -> tuple[np.ndarray, list[str]]:
    """The one FP32 input tensor as rows, and the output names asked for."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InputError(400, "body must be an object with 'inputs': [one tensor]")
    if len(payload["inputs"]) != 1:
        raise InputError(400, f"expected exactly one input tensor, got {len(payload['inputs'])}")
    tensor = payload["inputs"][0]
    if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
        raise InputError(400, "input tensor needs 'name', 'shape', 'datatype' and 'data'")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if datatype != "FP32":
        raise InputError(400, f"input {name!r}: datatype must be FP32, got {datatype!r}")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(type(v) is int for v in shape)
        or shape[1] != input_dim
        or shape[0] < 1
    ):
        raise InputError(
            400, f"input {name!r}: shape must be [rows, {input_dim}] with rows >= 1, got {shape!r}"
        )
    if shape[0] > max_rows:
        raise InputError(400, f"input {name!r}: {shape[0]} rows; at most {max_rows} per request")
    data = tensor["data"]
    if not isinstance(data, list):
        raise InputError(400, f"input {name!r}: 'data' must be a list of numbers")
    try:
        flat = np.array(data).reshape(-1)
    except (ValueError, TypeError, OverflowError):
        raise InputError(
            400, f"input {name!r}: 'data' must be a flat or row-major nested list of numbers"
        ) from None
    if flat.dtype.kind not in "iuf" or (scan_bools and codec.holds_bool(data)):
        raise InputError(400, f"input {name!r}: 'data' must hold only numbers")
    if flat.size != shape[0] * shape[1]:
        raise InputError(400, f"input {name!r}: {flat.size} values do not fill shape {shape}")
    try:
        rows = codec.finite_float32(flat.reshape(shape[0], shape[1]), name)
    except InputError as exc:
        raise InputError(400, exc.message) from None
    wanted = payload.get("outputs") or [{"name": n} for n in OUTPUT_NAMES]
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise InputError(400, "'outputs' must be a list of {\"name\": ...}")
    names = [o.get("name") for o in wanted]
    unknown = [n for n in names if n not in OUTPUT_NAMES]
    if unknown:
        raise InputError(400, f"unknown output(s) {unknown}; this model has {list(OUTPUT_NAMES)}")
    return rows, names


def encode_infer(
    model: LoadedModel, outputs: np.ndarray, names: list[str], request_id: str
) -> dict[str, Any]:
    tensors = {
        "probabilities": lambda: {
            "name": "probabilities",
            "shape": list(outputs.shape),
            "datatype": "FP32",
            "data": outputs.reshape(-1),
        },
        "label": lambda: {
            "name": "label",
            "shape": [outputs.shape[0]],
            "datatype": "BYTES",
            "data": codec.argmax_labels(outputs, model.labels),
        },
    }
    return {
        "model_name": model.name,
        "model_version": model.version,
        "id": request_id,
        "outputs": [tensors[n]() for n in names],
    }


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": "corebound", "version": __version__, "extensions": []}


@router.get(
    "/health/live",
    summary="Server live",
    responses={503: {"description": "Inference thread stalled"}},
)
async def live(request: Request) -> Response:
    rt = runtime(request)
    ok = rt.engine is not None and rt.engine.healthy(rt.settings.heartbeat_timeout_s)
    return codec.json_response({"live": ok}, 200 if ok else 503)


@router.get("/health/ready", summary="Server ready", responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> Response:
    ok = runtime(request).ready
    return codec.json_response({"ready": ok}, 200 if ok else 503)


@router.get(
    "/models/{model_name}",
    summary="Model metadata",
    response_model=ModelMetadata,
    responses=OIP_ERROR_RESPONSES,
)
async def model_metadata(model_name: str, request: Request) -> Response:
    model = _model(runtime(request), model_name)
    return codec.json_response(
        {
            "name": model.name,
            "versions": [model.version],
            "platform": "corebound-numpy",
            "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, model.input_dim]}],
            "outputs": [
                {
                    "name": "probabilities",
                    "datatype": "FP32",
                    "shape": [-1, len(model.labels) or -1],
                },
                {"name": "label", "datatype": "BYTES", "shape": [-1]},
            ],
        }
    )


@router.get("/models/{model_name}/ready", summary="Model ready", responses=OIP_ERROR_RESPONSES)
async def model_ready(model_name: str, request: Request) -> Response:
    rt = runtime(request)
    model = _model(rt, model_name)
    return codec.json_response({"name": model.name, "ready": rt.ready}, 200 if rt.ready else 503)


@router.post(
    "/models/{model_name}/infer",
    summary="Infer",
    response_model=InferResponse,
    responses=OIP_ERROR_RESPONSES,
    openapi_extra=json_body("InferRequest"),
)
async def infer(model_name: str, request: Request) -> Response:
    rt = runtime(request)
    model = _model(rt, model_name)
    _, engine = rt.serving
    body = await codec.read_body(request, rt.settings.max_body_bytes)
    payload = codec.parse_json(body)
    rows, names = decode_infer(
        payload, model.input_dim, rt.settings.max_rows_per_request, codec.may_hold_bools(body)
    )
    outputs = await engine.infer(rows, rt.settings.request_timeout_s)
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else str(uuid.uuid4())
    return codec.json_response(encode_infer(model, outputs, names, request_id))
