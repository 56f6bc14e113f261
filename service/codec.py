"""Request decoding and response encoding, as plain functions (testable without HTTP).

Parsing is orjson + one `np.array` call; the checks name what is wrong so a client can fix
it, and every failure is an `InputError` carrying its 4xx status.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response


class InputError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


JSON_TYPES = ("application/json",)


async def read_body(request: Request, max_bytes: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise InputError(
            415, f"Content-Type must be application/json, got {content_type or 'none'!r}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise InputError(413, f"body of {declared} bytes exceeds MAX_BODY_BYTES={max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise InputError(413, f"body exceeds MAX_BODY_BYTES={max_bytes}")
        chunks.append(chunk)
    return b"".join(chunks)


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


def holds_bool(values: list[Any]) -> bool:
    """True/false anywhere in a flat list or a list of rows."""
    return any(
        type(v) is bool or (type(v) is list and any(type(x) is bool for x in v)) for v in values
    )


def may_hold_bools(body: bytes) -> bool:
    # numpy turns true/false into 1/0 silently; walking every value costs more than this scan.
    return b"true" in body or b"false" in body


def to_rows(
    values: Any, input_dim: int, max_rows: int, *, what: str = "inputs", scan_bools: bool = True
) -> np.ndarray:
    """A list of rows of numbers -> float32 [n, input_dim], or an InputError saying why not."""
    if not isinstance(values, list):
        raise InputError(
            422, f"'{what}' must be a list of rows, each a list of {input_dim} numbers"
        )
    if not values:
        raise InputError(422, f"'{what}' is empty: send at least one row")
    try:
        array = np.array(values)
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
            f"'{what}' has {len(array)} rows; at most {max_rows} per request"
            " (MAX_ROWS_PER_REQUEST)",
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
        rows = array.astype(np.float32)
    if not np.isfinite(rows).all():
        bad = int(np.argwhere(~np.isfinite(rows))[0][0])
        raise InputError(422, f"'{what}' row {bad} has a value that is not a finite float32")
    return rows


def _kind_name(array: np.ndarray) -> str:
    names = {"b": "booleans", "U": "strings", "S": "strings", "O": "nulls, objects or mixed types"}
    return names.get(array.dtype.kind, str(array.dtype))


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def json_response(
    payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encode(payload), status, headers, media_type="application/json")


def argmax_labels(outputs: np.ndarray, labels: list[str]) -> list[str]:
    if not labels or outputs.ndim != 2:
        return []
    return [labels[i] for i in outputs.argmax(axis=1)]
