"""`POST /v1/predict`: `{"inputs": [[...]]}` -> `{"outputs": [[...]], "labels": [...]}`.

Decoding and the answer are service/protocol/predict.py's (the job worker uses the same).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.protocol import predict as codec
from service.web.body import read_json_body
from service.web.openapi_docs import ERROR_RESPONSES, PredictResponse, json_body
from service.web.responses import json_response
from service.web.runtime import runtime_of

router = APIRouter(tags=["predict"])


@router.post(
    "/v1/predict",
    summary="Predict a batch of rows",
    response_model=PredictResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body("PredictRequest"),
)
async def predict(request: Request) -> Response:
    rt = runtime_of(request)
    model, engine = rt.serving
    codec.width(model)  # before reading: such a model refuses every body alike
    # The body is an argument only: freed once decoded, before inference is awaited.
    batch = codec.decode(await read_json_body(request), model, rt.settings.max_rows_per_request)
    result = await engine.infer(batch, rt.settings.request_timeout_s)
    return json_response(codec.encode(model, result))
