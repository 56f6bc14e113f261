"""Request bodies admitted within the worker's limits: size, parse slots, structure.

Every body is read here, JSON and binary alike: refused before reading when its declared
size is over the limit, read within one of `PARSE_CONCURRENCY` slots per worker, and its JSON
part's lists and values counted before anything parses it (service/protocol does the rest).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request

from service.protocol import oip_binary
from service.protocol.errors import InputError
from service.protocol.rows import check_structure


class ClientGone(Exception):
    """The client hung up (or sent less than its Content-Length) before the body was read."""


JSON_TYPES = ("application/json",)
HEADER_LENGTH = "inference-header-content-length"


@dataclass
class BodyPolicy:
    """Per worker: the body limit and the slots for bodies being read and parsed at once.

    Parsing is synchronous on the event loop, so a slot released when `read_bounded` returns
    is only taken again after the caller parsed and decoded: the slots bound both steps.
    """

    max_bytes: int
    max_rows: int
    max_values: int  # rows x input width: numbers in the largest valid request
    slots: int
    wait_s: float
    # The variables that set the limits, as the refusals name them (a job's: JOB_*).
    bytes_setting: str = "MAX_BODY_BYTES"
    rows_setting: str = "MAX_ROWS_PER_REQUEST"
    slots_setting: str = "PARSE_CONCURRENCY"
    gate: asyncio.Semaphore = field(init=False)
    waiting: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.slots)

    @property
    def max_waiting(self) -> int:
        # Each waiter's connection may buffer up to uvicorn's 64 KiB high-water mark plus
        # one read before it pauses: a bounded queue keeps that bounded too.
        return 4 * self.slots


def policy_of(request: Request) -> BodyPolicy:
    policy: BodyPolicy = request.app.state.body_policy
    return policy


async def read_json_body(request: Request, policy: BodyPolicy | None = None) -> bytes:
    """A `/v1` JSON body within `policy` (default: the worker's BodyPolicy)."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise InputError(
            415, f"Content-Type must be application/json, got {content_type or 'none'!r}"
        )
    policy = policy or policy_of(request)
    body = await read_bounded(request, policy)
    check_structure(body, policy.max_rows, policy.max_values, policy.rows_setting)
    return body


async def read_infer_body(request: Request, policy: BodyPolicy | None = None) -> oip_binary.Body:
    """The v2 infer body, bounded before and after decompression.

    The JSON part's lists and values are counted before it is parsed (the binary part holds
    raw floats, not JSON).
    """
    headers = request.headers
    declared_header = headers.get(HEADER_LENGTH)
    oip_binary.check_media(headers.get("content-type", ""), declared_header is not None)
    policy = policy or policy_of(request)
    raw = await read_bounded(request, policy)
    plain = oip_binary.decompress(raw, headers.get("content-encoding", ""), policy.max_bytes)
    body = oip_binary.split(plain, declared_header)
    check_structure(body.header, policy.max_rows, policy.max_values, policy.rows_setting)
    return body


async def read_bounded(request: Request, policy: BodyPolicy) -> bytes:
    """Any body, within the limit and the worker's parse slots."""
    limit = policy.max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        # Close: otherwise the server reads and discards the declared body to keep the
        # connection, and the client keeps sending it.
        raise InputError(
            413, f"body of {declared} bytes exceeds {policy.bytes_setting}={limit}", _CLOSE
        )
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
        return await _read_within(request, limit, policy.bytes_setting)
    finally:
        policy.gate.release()


def _busy(policy: BodyPolicy) -> InputError:
    return InputError(
        503, f"{policy.slots} bodies already being read ({policy.slots_setting})", _BUSY
    )


_CLOSE = {"Connection": "close"}
_BUSY = {"Retry-After": "1"}


async def _read_within(request: Request, limit: int, setting: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise InputError(413, f"body exceeds {setting}={limit}", _CLOSE)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone(f"client went away after {size} body bytes") from None
    return b"".join(chunks)
