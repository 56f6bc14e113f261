"""`POST /v1/predict`: `{"inputs": [[...]]}` -> `{"outputs": [[...]], "labels": [...]}`."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service import codec
from service.openapi_docs import ERROR_RESPONSES, PredictResponse, json_body
from service.runtime import runtime

router = APIRouter(tags=["predict"])


def decode_predict(
    payload: Any, input_dim: int, max_rows: int, scan_bools: bool, numbers_only: bool = False
) -> np.ndarray:
    if not isinstance(payload, dict):
        raise codec.InputError(422, 'body must be a JSON object like {"inputs": [[...], ...]}')
    unknown = sorted(set(payload) - {"inputs"})
    if unknown:
        raise codec.InputError(
            422, f'unknown field(s) {unknown}: the body is {{"inputs": [[...]]}}'
        )
    if "inputs" not in payload:
        raise codec.InputError(422, "missing field 'inputs'")
    return codec.to_rows(
        payload["inputs"], input_dim, max_rows, scan_bools=scan_bools, numbers_only=numbers_only
    )


async def read_rows(request: Request, input_dim: int, max_rows: int) -> np.ndarray:
    # Its own frame, so the body and its parsed objects are freed before inference is awaited.
    body = await codec.read_body(request)
    numbers_only = codec.only_numbers(body)
    return decode_predict(
        codec.parse_json(body),
        input_dim,
        max_rows,
        scan_bools=not numbers_only and codec.may_hold_bools(body),
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
    rt = runtime(request)
    model, engine = rt.serving
    rows = await read_rows(request, model.input_dim, rt.settings.max_rows_per_request)
    outputs = await engine.infer(rows, rt.settings.request_timeout_s)
    payload = {"outputs": outputs, "labels": codec.argmax_labels(outputs, model.labels)}
    return codec.json_response(payload)
