"""The engine's liveness with long model calls (MAX_CALL_S): a thread inside a call younger
than max_call_s is busy, not hung, whatever its heartbeat's age; older, it is hung; an idle
thread is judged by its heartbeat alone.

Deterministic: the engine's clock is a FakeClock the test moves, the model is held on a gate,
and an idle thread's wait is never timed, so only a call or a notify can make it beat."""

from __future__ import annotations

import asyncio

import pytest
from engine_doubles import GatedModel, freeze_clock, make, rows, spy_waits

from service.inference.engine import InferenceEngine

pytestmark = pytest.mark.anyio

HEARTBEAT_S = 30.0
MAX_CALL_S = 120.0


async def in_a_call(engine: InferenceEngine, model: GatedModel) -> asyncio.Future[object]:
    """A request whose model call has begun and is held on the model's gate."""
    model.gate.clear()
    task = asyncio.ensure_future(engine.infer(rows(1), 600))
    await asyncio.to_thread(model.entered.wait, 5)
    return task


async def test_a_call_younger_than_max_call_s_is_busy_not_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    task = await in_a_call(engine, model)

    clock.advance(MAX_CALL_S - 1)  # four heartbeat timeouts: the thread has not beaten since

    assert engine.call_started == clock.now - (MAX_CALL_S - 1)
    assert engine.healthy(HEARTBEAT_S, MAX_CALL_S)
    model.gate.set()
    await task
    engine.stop()


async def test_a_call_older_than_max_call_s_is_hung(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    task = await in_a_call(engine, model)

    clock.advance(MAX_CALL_S)

    assert not engine.healthy(HEARTBEAT_S, MAX_CALL_S)
    model.gate.set()
    await task
    engine.stop()


async def test_a_call_older_than_a_max_call_s_below_the_heartbeat_timeout_is_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    task = await in_a_call(engine, model)

    clock.advance(6)

    assert not engine.healthy(HEARTBEAT_S, max_call_s=5)
    assert engine.healthy(HEARTBEAT_S, max_call_s=7)
    model.gate.set()
    await task
    engine.stop()


async def test_without_max_call_s_a_call_is_hung_after_the_heartbeat_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    task = await in_a_call(engine, model)

    clock.advance(HEARTBEAT_S - 1)
    busy = engine.healthy(HEARTBEAT_S)
    clock.advance(1)
    hung = not engine.healthy(HEARTBEAT_S)

    assert busy and hung
    model.gate.set()
    await task
    engine.stop()


async def test_a_long_call_that_ends_leaves_a_fresh_heartbeat_and_no_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    task = await in_a_call(engine, model)
    clock.advance(MAX_CALL_S + 10)
    assert not engine.healthy(HEARTBEAT_S, MAX_CALL_S)

    model.gate.set()
    await task

    assert engine.call_started is None and engine.heartbeat == clock.now
    assert engine.healthy(HEARTBEAT_S, MAX_CALL_S)
    engine.stop()


def idle_engine() -> InferenceEngine:
    """An engine whose idle thread waits untimed: its heartbeat stays as it was built."""
    engine = InferenceEngine(
        GatedModel().predict, max_batch=8, max_wait_s=0.0, max_queue_rows=64, threads=1
    )
    spy_waits(engine, idle_poll=False)
    engine.start()
    return engine


async def test_an_idle_thread_is_judged_by_its_heartbeat_not_max_call_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    engine = idle_engine()

    clock.advance(HEARTBEAT_S - 1)
    fresh = engine.healthy(HEARTBEAT_S, MAX_CALL_S)
    clock.advance(1)
    stale = engine.healthy(HEARTBEAT_S, MAX_CALL_S)

    assert engine.call_started is None
    assert fresh and not stale
    engine.stop()


async def test_a_stopped_thread_is_not_alive_whatever_its_clocks_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    freeze_clock(monkeypatch)
    engine = make(GatedModel())

    engine.stop()

    assert not engine.healthy(HEARTBEAT_S, MAX_CALL_S)
