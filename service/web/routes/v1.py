"""`POST /v1/predict`: `{"inputs": [[...]]}` -> `{"outputs": [[...]], "labels": [...]}`.

Any model of one `[rows, width]` input: `outputs` holds, per row, the model's first
floating-point output (else its first output) and `labels` its first other non-float output
(a classifier's label), or the label of the highest output for a model with `labels`; `[]`
when it has neither. Other models answer through the Open Inference Protocol (/v2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.inference.loaded import LoadedModel
from service.protocol import datatypes, rows
from service.protocol.errors import InputError
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


async def read_typed_rows(request: Request, model: LoadedModel, width: int, max_rows: int) -> Any:
    """Rows for an input of another datatype than FP32: whole numbers stay exact."""
    body = await read_json_body(request)
    payload = rows.parse_json(body)
    spec = model.inputs[0]
    checked = rows.decode_predict(payload, width, max_rows, scan_bools=rows.may_hold_bools(body))
    try:
        flat = datatypes.from_json(
            payload["inputs"], spec.datatype, "inputs", list(checked.shape), True
        )
    except InputError as exc:
        raise InputError(422, exc.message) from None
    return flat.reshape(checked.shape)


def _listed(values: Any) -> Any:
    # orjson writes numeric arrays itself; strings (object arrays) and lists as lists.
    if isinstance(values, np.ndarray) and values.dtype.kind == "O":
        return values.tolist()
    return values


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
    width = model.input_dim
    max_rows = rt.settings.max_rows_per_request
    if width is None:
        inputs = [spec.metadata() for spec in model.inputs]
        raise InputError(
            422,
            f"/v1/predict takes rows for a model of one [rows, width] input; {model.name!r}"
            f" has inputs {inputs}: use POST /v2/models/{model.name}/infer",
        )
    batch: Any
    if model.tensors and model.inputs[0].datatype != "FP32":
        batch = (await read_typed_rows(request, model, width, max_rows),)
    else:
        batch = await read_rows(request, width, max_rows)
        if model.tensors:
            batch = (batch,)
    fixed = model.inputs[0].shape[0]
    rows = len(batch[0] if model.tensors else batch)
    if fixed >= 0 and rows != fixed:
        raise InputError(422, f"'inputs' has {rows} rows; this model takes exactly {fixed}")
    result = await engine.infer(batch, rt.settings.request_timeout_s)
    label_output = model.v1_labels
    names = [model.v1_output, *([label_output] if label_output else [])]
    values = model.named_outputs(result, names)
    labels = _listed(values[label_output]) if label_output else []
    payload = {"outputs": _listed(values[model.v1_output]), "labels": labels}
    return json_response(payload)
