"""`POST /v1/predict`: `{"inputs": [[...]]}` -> `{"outputs": [[...]], "labels": [...]}`."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.protocol import rows
from service.web.body import read_json_body
from service.web.openapi_docs import ERROR_RESPONSES, PredictResponse, json_body
from service.web.responses import json_response
from service.web.runtime import runtime_of

router = APIRouter(tags=["predict"])


async def read_rows(request: Request, input_dim: int, max_rows: int) -> np.ndarray:
    # Its own frame, so the body and its parsed objects are freed before inference is awaited.
    body = await read_json_body(request)
    numbers_only = rows.only_numbers(body)
    return rows.decode_predict(
        rows.parse_json(body),
        input_dim,
        max_rows,
        scan_bools=not numbers_only and rows.may_hold_bools(body),
        numbers_only=numbers_only,
    )


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
    batch = await read_rows(request, model.input_dim, rt.settings.max_rows_per_request)
    outputs = await engine.infer(batch, rt.settings.request_timeout_s)
    payload = {"outputs": outputs, "labels": rows.argmax_labels(outputs, model.labels)}
    return json_response(payload)
