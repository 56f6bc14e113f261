"""Body admission on starlette's real Request over a hand-driven ASGI receive channel:
the parse slots, the structure counts before parsing, a client that goes away."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from starlette.requests import Request
from starlette.types import Message

from service.protocol.errors import InputError
from service.web.body import BodyPolicy, ClientGone, read_json_body

pytestmark = pytest.mark.anyio


def policy(**kw: int | float) -> BodyPolicy:
    options: dict[str, int | float] = {
        "max_bytes": 4096,
        "max_rows": 4,
        "max_values": 16,
        "slots": 1,
        "wait_s": 5.0,
        **kw,
    }
    return BodyPolicy(**options)  # type: ignore[arg-type]


def request(body_policy: BodyPolicy, messages: asyncio.Queue[Message]) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/predict",
        "headers": [(b"content-type", b"application/json")],
        "app": SimpleNamespace(state=SimpleNamespace(body_policy=body_policy)),
    }
    return Request(scope, messages.get)


def body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


async def test_a_body_waits_for_a_parse_slot_then_gets_503_with_retry_after() -> None:
    shared = policy(slots=1, wait_s=0.05)
    slow: asyncio.Queue[Message] = asyncio.Queue()
    await slow.put(body(b"[", more=True))
    holder = asyncio.ensure_future(read_json_body(request(shared, slow)))
    await asyncio.sleep(0)  # the first request holds the only slot, waiting for its body
    waiting: asyncio.Queue[Message] = asyncio.Queue()
    await waiting.put(body(b"[[1]]"))
    with pytest.raises(InputError) as refused:
        await read_json_body(request(shared, waiting))
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "1"}
    assert "PARSE_CONCURRENCY" in refused.value.message
    await slow.put(body(b"[1]]"))
    assert await holder == b"[[1]]"
    again: asyncio.Queue[Message] = asyncio.Queue()
    await again.put(body(b"[[2]]"))
    assert await read_json_body(request(shared, again)) == b"[[2]]"  # the slot came back


async def test_beyond_four_waiters_per_slot_a_body_is_refused_at_once() -> None:
    shared = policy(slots=1, wait_s=5.0)
    held: asyncio.Queue[Message] = asyncio.Queue()
    await held.put(body(b"[", more=True))
    holder = asyncio.ensure_future(read_json_body(request(shared, held)))
    queues = [asyncio.Queue[Message]() for _ in range(4)]
    waiters = [asyncio.ensure_future(read_json_body(request(shared, q))) for q in queues]
    await asyncio.sleep(0)
    assert shared.waiting == 4
    with pytest.raises(InputError) as refused:  # the fifth does not queue
        await read_json_body(request(shared, asyncio.Queue()))
    assert refused.value.status == 503
    await held.put(body(b"[1]]"))
    for q in queues:
        await q.put(body(b"[[2]]"))
    assert await holder == b"[[1]]"
    assert await asyncio.gather(*waiters) == [b"[[2]]"] * 4
    assert shared.waiting == 0


async def test_the_structure_is_counted_before_the_body_is_handed_on() -> None:
    messages: asyncio.Queue[Message] = asyncio.Queue()
    await messages.put(body(b"[" * 25 + b"]" * 25))
    with pytest.raises(InputError, match="JSON lists/objects") as refused:
        await read_json_body(request(policy(), messages))
    assert refused.value.status == 413


async def test_a_client_that_goes_away_is_client_gone_not_an_error() -> None:
    messages: asyncio.Queue[Message] = asyncio.Queue()
    await messages.put(body(b'{"inputs": [[1', more=True))
    await messages.put({"type": "http.disconnect"})
    with pytest.raises(ClientGone, match="after 14 body bytes"):
        await read_json_body(request(policy(), messages))


async def test_an_oversized_declared_body_is_refused_with_a_close() -> None:
    scope_request = request(policy(), asyncio.Queue())
    scope_request.scope["headers"].append((b"content-length", b"99999"))
    with pytest.raises(InputError) as refused:
        await read_json_body(scope_request)
    assert refused.value.status == 413 and refused.value.headers == {"Connection": "close"}
