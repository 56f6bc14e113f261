"""Open Inference Protocol v2 (REST): health, server and model metadata, infer.

Every model path exists unversioned and under `/versions/{model_version}`; the version must
be one the metadata lists. Bodies are JSON or the binary tensor data extension
(service/protocol/oip_binary.py); decoding and encoding live in
service/protocol/oip_tensors.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service import __version__
from service.inference.loaded import LoadedModel
from service.protocol import oip_infer, oip_tensors
from service.protocol.rows import encode
from service.web.body import read_infer_body
from service.web.openapi_docs import OIP_ERROR_RESPONSES, InferResponse, ModelMetadata, json_body
from service.web.responses import binary_response, json_response
from service.web.routes import ops
from service.web.runtime import runtime_of

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
MODEL = "/models/{model_name}"
VERSION = MODEL + "/versions/{model_version}"
EXTENSIONS = ["binary_tensor_data"]


def _model(request: Request, name: str, version: str | None) -> LoadedModel:
    model, _ = runtime_of(request).serving
    oip_infer.check_served(model, name, version)
    return model


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": "corebound", "version": __version__, "extensions": EXTENSIONS}


@router.get(
    "/health/live",
    summary="Server live (the same check as /healthz)",
    responses={503: {"description": "Inference thread stalled"}},
)
async def live(request: Request) -> Response:
    ok = (await ops.healthz(request)).status_code == 200
    return json_response({"live": ok}, 200 if ok else 503)


@router.get(
    "/health/ready",
    summary="Server ready (the same check as /readyz)",
    responses={503: {"description": "Not ready, or a worker of the pod stalled"}},
)
async def ready(request: Request) -> Response:
    ok = (await ops.readyz(request)).status_code == 200
    return json_response({"ready": ok}, 200 if ok else 503)


async def _metadata(request: Request, name: str, version: str | None) -> Response:
    return json_response(oip_tensors.metadata(_model(request, name, version)))


async def _model_ready(request: Request, name: str, version: str | None) -> Response:
    model = _model(request, name, version)
    ok = runtime_of(request).ready
    return json_response({"name": model.name, "ready": ok}, 200 if ok else 503)


async def _infer(request: Request, name: str, version: str | None) -> Response:
    model = _model(request, name, version)
    rt = runtime_of(request)
    _, engine = rt.serving
    body = await read_infer_body(request)
    decoded = oip_infer.decode(body, model, rt.settings.max_rows_per_request)
    # The body is not needed while the request waits for the model: queued requests must
    # not each hold a maximal body (the memory plan budgets bodies being parsed, not queued).
    del body
    outputs = await engine.infer(decoded.rows, rt.settings.request_timeout_s)
    header, parts = oip_infer.encode(model, outputs, decoded)
    if not parts:
        return json_response(header)
    return binary_response(encode(header), parts)


METADATA: dict[str, Any] = {"response_model": ModelMetadata, "responses": OIP_ERROR_RESPONSES}
READY: dict[str, Any] = {"responses": {**OIP_ERROR_RESPONSES, 503: {"description": "Not ready"}}}
INFER: dict[str, Any] = {
    "response_model": InferResponse,
    "responses": OIP_ERROR_RESPONSES,
    "openapi_extra": json_body("InferRequest"),
    "description": "JSON, or binary tensors after a JSON header whose length is in the"
    " Inference-Header-Content-Length header (the binary_tensor_data extension).",
}


@router.get(MODEL, summary="Model metadata", **METADATA)
async def model_metadata(model_name: str, request: Request) -> Response:
    return await _metadata(request, model_name, None)


@router.get(VERSION, summary="Model version metadata", **METADATA)
async def version_metadata(model_name: str, model_version: str, request: Request) -> Response:
    return await _metadata(request, model_name, model_version)


@router.get(MODEL + "/ready", summary="Model ready", **READY)
async def model_ready(model_name: str, request: Request) -> Response:
    return await _model_ready(request, model_name, None)


@router.get(VERSION + "/ready", summary="Model version ready", **READY)
async def version_ready(model_name: str, model_version: str, request: Request) -> Response:
    return await _model_ready(request, model_name, model_version)


@router.post(MODEL + "/infer", summary="Infer", **INFER)
async def infer(model_name: str, request: Request) -> Response:
    return await _infer(request, model_name, None)


@router.post(VERSION + "/infer", summary="Infer with a model version", **INFER)
async def version_infer(model_name: str, model_version: str, request: Request) -> Response:
    return await _infer(request, model_name, model_version)
