"""`/v1/predict` bodies: JSON rows to float32, answers to JSON. Plain functions, no HTTP.

Parsing is orjson + one `np.array` call; the checks name what is wrong so a client can fix
it, and every failure is an `InputError` carrying its 4xx status.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from service.inference.loaded import argmax_labels as argmax_labels  # the v1 answer's labels
from service.protocol.errors import InputError

# JSON lists and objects a valid request holds besides its rows (v2: inputs, tensor, shape,
# outputs and its entries): more than rows + this is refused before parsing.
CONTAINER_SLACK = 16


def check_structure(
    body: bytes, max_rows: int, max_values: int, setting: str = "MAX_ROWS_PER_REQUEST"
) -> None:
    """Refuses JSON with far more lists or values than `max_rows` rows hold, before parsing.

    `max_values`: rows x input width, the numbers in the largest valid request; `setting`
    names the variable that set `max_rows` in the messages (JOB_MAX_ROWS for a job).
    """
    # Parsing builds a Python object per value, list and object (~30-60 bytes each, up to 35x
    # the body for tiny values): count them first with C-speed scans and refuse, before
    # parsing, bodies with far more than a valid request (twice the rows or numbers: a
    # slightly oversized request still gets the decoder's exact 422).
    containers = body.count(b"[") + body.count(b"{")
    most_containers = 2 * max_rows + CONTAINER_SLACK
    if containers > most_containers:
        raise InputError(
            413,
            f"body holds {containers} JSON lists/objects; at most {most_containers} for"
            f" {setting}={max_rows}",
        )
    values = body.count(b",") + 1
    most_values = 2 * (max_values + max_rows) + CONTAINER_SLACK
    if values > most_values:
        raise InputError(
            413,
            f"body holds about {values} JSON values; at most {most_values} for"
            f" {setting}={max_rows} rows"
            f" of {max_values // max_rows} numbers",
        )


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = (
            " (NaN and Infinity are not JSON numbers)"
            if b"NaN" in body or b"Infinity" in body
            else ""
        )
        raise InputError(400, f"body is not valid JSON{hint}: {exc}") from None


def decode_predict(
    payload: Any,
    input_dim: int,
    max_rows: int,
    scan_bools: bool,
    numbers_only: bool = False,
    setting: str = "MAX_ROWS_PER_REQUEST",
) -> np.ndarray:
    if not isinstance(payload, dict):
        raise InputError(422, 'body must be a JSON object like {"inputs": [[...], ...]}')
    unknown = sorted(set(payload) - {"inputs"})
    if unknown:
        raise InputError(422, f'unknown field(s) {unknown}: the body is {{"inputs": [[...]]}}')
    if "inputs" not in payload:
        raise InputError(422, "missing field 'inputs'")
    return to_rows(
        payload["inputs"],
        input_dim,
        max_rows,
        scan_bools=scan_bools,
        numbers_only=numbers_only,
        setting=setting,
    )


def holds_bool(values: list[Any]) -> bool:
    """True/false anywhere in a flat list or a list of rows."""
    return any(
        type(v) is bool or (type(v) is list and any(type(x) is bool for x in v)) for v in values
    )


def may_hold_bools(body: bytes) -> bool:
    # numpy turns true/false into 1/0 silently; walking every value costs more than this scan.
    return b"true" in body or b"false" in body


def only_numbers(body: bytes, keys: int = 1) -> bool:
    """No strings (beyond `keys` object keys), nulls or booleans: decode straight to float32.

    np.array(values, dtype=float32) is 6-40 % faster than via float64, but turns "1.5" into
    1.5 and null into NaN silently; this scan says when that cannot happen.
    """
    return body.count(b'"') <= 2 * keys and b"null" not in body and not may_hold_bools(body)


def to_rows(
    values: Any,
    input_dim: int,
    max_rows: int,
    *,
    what: str = "inputs",
    scan_bools: bool = True,
    numbers_only: bool = False,
    setting: str = "MAX_ROWS_PER_REQUEST",
) -> np.ndarray:
    """A list of rows of numbers -> float32 [n, input_dim], or an InputError saying why not.

    `numbers_only`: the body was scanned by `only_numbers`, so build float32 at once.
    """
    if not isinstance(values, list):
        raise InputError(
            422, f"'{what}' must be a list of rows, each a list of {input_dim} numbers"
        )
    if not values:
        raise InputError(422, f"'{what}' is empty: send at least one row")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # the finite check names the row
            array = np.array(values, dtype=np.float32 if numbers_only else None)
    except (ValueError, TypeError, OverflowError):
        raise InputError(
            422, f"'{what}' rows must all be lists of {input_dim} numbers (ragged or mixed rows)"
        ) from None
    if array.dtype.kind not in "iuf":
        raise InputError(422, f"'{what}' must hold only numbers (got {_kind_name(array)})")
    if array.ndim == 1:
        raise InputError(422, f"'{what}' must be a list of rows: wrap a single row as [[...]]")
    if array.ndim != 2:
        raise InputError(
            422, f"'{what}' rows must be flat lists of numbers, got {array.ndim}-level nesting"
        )
    if len(array) > max_rows:
        raise InputError(
            422,
            f"'{what}' has {len(array)} rows; at most {max_rows} per request ({setting})",
        )
    if array.shape[1] != input_dim:
        raise InputError(
            422, f"each row of '{what}' must have {input_dim} numbers, got {array.shape[1]}"
        )
    if scan_bools and holds_bool(values):
        raise InputError(422, f"'{what}' must hold only numbers (got booleans)")
    return finite_float32(array, what)


def finite_float32(array: np.ndarray, what: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        rows = array.astype(np.float32, copy=False)
    if not np.isfinite(rows).all():
        bad = int(np.argwhere(~np.isfinite(rows))[0][0])
        raise InputError(422, f"'{what}' row {bad} has a value that is not a finite float32")
    return rows


def _kind_name(array: np.ndarray) -> str:
    names = {"b": "booleans", "U": "strings", "S": "strings", "O": "nulls, objects or mixed types"}
    return names.get(array.dtype.kind, str(array.dtype))


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
