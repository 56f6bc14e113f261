"""Request decoding and response encoding, as plain functions (testable without HTTP).

Parsing is orjson + one `np.array` call; the checks name what is wrong so a client can fix
it, and every failure is an `InputError` carrying its 4xx status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response


class InputError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class ClientGone(Exception):
    """The client hung up (or sent less than its Content-Length) before the body was read."""


JSON_TYPES = ("application/json",)

# JSON lists and objects a valid request holds besides its rows (v2: inputs, tensor, shape,
# outputs and its entries): more than rows + this is refused before parsing.
CONTAINER_SLACK = 16


@dataclass
class BodyPolicy:
    """Per worker: the body limit and the slots for bodies being read and parsed at once.

    Parsing is synchronous on the event loop, so a slot released when `read_body` returns is
    only taken again after the caller parsed and decoded: the slots bound both steps.
    """

    max_bytes: int
    max_rows: int
    max_values: int  # rows x input width: numbers in the largest valid request
    slots: int
    wait_s: float
    gate: asyncio.Semaphore = field(init=False)
    waiting: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.slots)

    @property
    def max_waiting(self) -> int:
        # Each waiter's connection may buffer up to uvicorn's 64 KiB high-water mark plus
        # one read before it pauses: a bounded queue keeps that bounded too.
        return 4 * self.slots


async def read_body(request: Request, max_bytes: int | None = None) -> bytes:
    """A JSON body within the worker's BodyPolicy (app.state.body_policy) and `max_bytes`."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise InputError(
            415, f"Content-Type must be application/json, got {content_type or 'none'!r}"
        )
    body = await read_bounded(request, max_bytes)
    check_structure(request, body)
    return body


def body_limit(request: Request, max_bytes: int | None = None) -> int:
    policy: BodyPolicy | None = getattr(request.app.state, "body_policy", None)
    if policy is None:  # an app not made by create_app (the benchmark's bare apps)
        assert max_bytes is not None, "read_body needs max_bytes without a BodyPolicy"
        return max_bytes
    return policy.max_bytes if max_bytes is None else min(max_bytes, policy.max_bytes)


async def read_bounded(request: Request, max_bytes: int | None = None) -> bytes:
    """Any body, within the limit and the worker's parse slots (JSON and binary alike)."""
    policy: BodyPolicy | None = getattr(request.app.state, "body_policy", None)
    limit = body_limit(request, max_bytes)
    if policy is None:
        return await _read_within(request, limit)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        # Close: otherwise the server reads and discards the declared body to keep the
        # connection, and the client keeps sending it.
        raise InputError(413, f"body of {declared} bytes exceeds MAX_BODY_BYTES={limit}", _CLOSE)
    if not policy.gate.locked():
        await policy.gate.acquire()  # free: no wait_for, no task
    elif policy.waiting >= policy.max_waiting:
        raise _busy(policy)
    else:
        policy.waiting += 1
        try:
            await asyncio.wait_for(policy.gate.acquire(), policy.wait_s)
        except TimeoutError:
            raise _busy(policy) from None
        finally:
            policy.waiting -= 1
    try:
        return await _read_within(request, limit)
    finally:
        policy.gate.release()


def check_structure(request: Request, body: bytes) -> None:
    """Refuses JSON with far more lists or values than the policy admits, before parsing."""
    policy: BodyPolicy | None = getattr(request.app.state, "body_policy", None)
    if policy is not None:
        _check_structure(body, policy)


def _busy(policy: BodyPolicy) -> InputError:
    return InputError(503, f"{policy.slots} bodies already being read (PARSE_CONCURRENCY)", _BUSY)


def _check_structure(body: bytes, policy: BodyPolicy) -> None:
    # Parsing builds a Python object per value, list and object (~30-60 bytes each, up to 35x
    # the body for tiny values): count them first with C-speed scans and refuse, before
    # parsing, bodies with far more than a valid request (twice the rows or numbers: a
    # slightly oversized request still gets the decoder's exact 422).
    containers = body.count(b"[") + body.count(b"{")
    most_containers = 2 * policy.max_rows + CONTAINER_SLACK
    if containers > most_containers:
        raise InputError(
            413,
            f"body holds {containers} JSON lists/objects; at most {most_containers} for"
            f" MAX_ROWS_PER_REQUEST={policy.max_rows}",
        )
    values = body.count(b",") + 1
    most_values = 2 * (policy.max_values + policy.max_rows) + CONTAINER_SLACK
    if values > most_values:
        raise InputError(
            413,
            f"body holds about {values} JSON values; at most {most_values} for"
            f" MAX_ROWS_PER_REQUEST={policy.max_rows} rows"
            f" of {policy.max_values // policy.max_rows} numbers",
        )


_CLOSE = {"Connection": "close"}
_BUSY = {"Retry-After": "1"}


async def _read_within(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise InputError(413, f"body exceeds MAX_BODY_BYTES={limit}", _CLOSE)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone(f"client went away after {size} body bytes") from None
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


def json_response(
    payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encode(payload), status, headers, media_type="application/json")


def argmax_labels(outputs: np.ndarray, labels: list[str]) -> list[str]:
    if not labels or outputs.ndim != 2:
        return []
    return [labels[i] for i in outputs.argmax(axis=1)]
