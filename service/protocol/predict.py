"""`/v1/predict` requests and answers, without HTTP: the sync route and the job worker both
decode and encode through these, so a job answers exactly what /v1/predict would have.

Any model of one `[rows, width]` input: `outputs` holds, per row, the model's first
floating-point output (else its first output) and `labels` its first other non-float output
(a classifier's label), or the label of the highest output for a model with `labels`; `[]`
when it has neither. Other models answer through the Open Inference Protocol (/v2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.inference.loaded import LoadedModel
from service.protocol import datatypes, rows
from service.protocol.errors import InputError

ROWS_SETTING = "MAX_ROWS_PER_REQUEST"


def width(model: LoadedModel) -> int:
    """The row width /v1 takes, or a 422 naming /v2 for a model of any other inputs.

    Checked before the body is read: such a model refuses every /v1 body alike.
    """
    if model.input_dim is None:
        inputs = [spec.metadata() for spec in model.inputs]
        raise InputError(
            422,
            f"/v1/predict takes rows for a model of one [rows, width] input; {model.name!r}"
            f" has inputs {inputs}: use POST /v2/models/{model.name}/infer",
        )
    return model.input_dim


def decode(body: bytes, model: LoadedModel, max_rows: int, setting: str = ROWS_SETTING) -> Any:
    """A `{"inputs": [[...]]}` body -> the model's batch (a tuple for a tensor model).

    `setting` names the variable that set `max_rows` (JOB_MAX_ROWS for a job).
    """
    cols = width(model)
    batch: Any
    if model.tensors and model.inputs[0].datatype != "FP32":
        batch = (_typed_rows(body, model, cols, max_rows, setting),)
    else:
        batch = _rows(body, cols, max_rows, setting)
        if model.tensors:
            batch = (batch,)
    fixed = model.inputs[0].shape[0]
    n_rows = len(batch[0] if model.tensors else batch)
    if fixed >= 0 and n_rows != fixed:
        raise InputError(422, f"'inputs' has {n_rows} rows; this model takes exactly {fixed}")
    return batch


def _rows(body: bytes, cols: int, max_rows: int, setting: str) -> np.ndarray:
    numbers_only = rows.only_numbers(body)
    return rows.decode_predict(
        rows.parse_json(body),
        cols,
        max_rows,
        scan_bools=not numbers_only and rows.may_hold_bools(body),
        numbers_only=numbers_only,
        setting=setting,
    )


def _typed_rows(body: bytes, model: LoadedModel, cols: int, max_rows: int, setting: str) -> Any:
    """Rows for an input of another datatype than FP32: whole numbers stay exact."""
    payload = rows.parse_json(body)
    spec = model.inputs[0]
    checked = rows.decode_predict(
        payload, cols, max_rows, scan_bools=rows.may_hold_bools(body), setting=setting
    )
    try:
        flat = datatypes.from_json(
            payload["inputs"], spec.datatype, "inputs", list(checked.shape), True
        )
    except InputError as exc:
        raise InputError(422, exc.message) from None
    return flat.reshape(checked.shape)


def encode(model: LoadedModel, result: Any) -> dict[str, Any]:
    """The answer for one request's rows of the model's result (arrays: orjson writes them)."""
    label_output = model.v1_labels
    names = [model.v1_output, *([label_output] if label_output else [])]
    values = model.named_outputs(result, names)
    labels = _listed(values[label_output]) if label_output else []
    return {"outputs": _listed(values[model.v1_output]), "labels": labels}


def _listed(values: Any) -> Any:
    # orjson writes numeric arrays itself; strings (object arrays) and lists as lists.
    if isinstance(values, np.ndarray) and values.dtype.kind == "O":
        return values.tolist()
    return values
