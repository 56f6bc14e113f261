"""The inference engine alone: batching, back-pressure, deadlines, draining, model faults.

Deterministic on any machine: the thread is held on events, the engine's clock is a FakeClock
where time matters (engine_doubles), and no test sleeps to let something happen.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from engine_doubles import GatedModel, freeze_clock, make, rows, spy_waits, until, wake_ups

from service.inference.engine import DeadlineExceeded, InferenceEngine, ModelError, Overloaded

pytestmark = pytest.mark.anyio


async def test_results_go_back_to_their_own_request() -> None:
    engine = make(GatedModel())
    outs = await asyncio.gather(*(engine.infer(rows(1, i), 5) for i in range(20)))
    assert [float(o[0, 0]) for o in outs] == [2.0 * i for i in range(20)]
    engine.stop()


async def test_queued_requests_are_batched_greedily_up_to_max_batch() -> None:
    model = GatedModel()
    engine = make(model)
    model.gate.clear()
    first = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)  # the thread is busy with the first row
    rest = [asyncio.ensure_future(engine.infer(rows(1), 5)) for _ in range(12)]
    await until(lambda: engine.queued_rows == 12)  # all twelve wait behind the busy thread
    model.gate.set()
    await asyncio.gather(first, *rest)
    assert model.batches == [1, 8, 4]
    engine.stop()


async def test_full_queue_refuses_at_once_with_retry_after() -> None:
    model = GatedModel()
    engine = make(model, max_queue_rows=4)
    model.gate.clear()
    busy = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    queued = asyncio.ensure_future(engine.infer(rows(4), 5))
    await until(lambda: engine.queued_rows == 4)
    with pytest.raises(Overloaded) as refused:
        await engine.infer(rows(1), 5)
    assert refused.value.retry_after_s >= 1
    model.gate.set()
    await asyncio.gather(busy, queued)
    engine.stop()


async def test_deadline_gives_deadline_exceeded_and_skips_the_work() -> None:
    model = GatedModel()
    engine = make(model)
    model.gate.clear()
    busy = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    with pytest.raises(DeadlineExceeded):
        await engine.infer(rows(3), 0.05)
    model.gate.set()
    await busy
    await engine.infer(rows(1), 5)
    assert 3 not in model.batches  # the expired request never reached the model
    engine.stop()


async def test_stop_finishes_everything_accepted() -> None:
    model = GatedModel()
    engine = make(model)
    model.gate.clear()
    pending = [asyncio.ensure_future(engine.infer(rows(1), 5)) for _ in range(10)]
    # Sync points, not timed sleeps. One pass of the loop runs each task up to its await,
    # so all ten are accepted; then the thread holds the first batch...
    await asyncio.sleep(0)
    await asyncio.to_thread(model.entered.wait, 5)
    stopper = asyncio.ensure_future(asyncio.to_thread(engine.stop))
    # ...and stop() has flipped the engine to draining (it then waits for the thread).
    await until(lambda: engine._stopping)
    with pytest.raises(Overloaded, match="stopped"):
        await engine.infer(rows(1), 5)
    model.gate.set()
    results = await asyncio.gather(*pending)
    await stopper
    assert len(results) == 10 and sum(model.batches) == 10


async def test_model_error_fails_its_batch_not_the_thread() -> None:
    calls = []

    def flaky(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return batch

    engine = InferenceEngine(flaky, max_batch=8, max_wait_s=0, max_queue_rows=64, threads=1)
    engine.start()
    with pytest.raises(ModelError, match="boom"):
        await engine.infer(rows(1), 5)
    assert (await engine.infer(rows(2), 5)).shape == (2, 4)
    assert engine.healthy(5)
    engine.stop()


async def test_max_wait_collects_a_fuller_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine's clock stands still: the window closes when the batch is full, never early
    # because the machine was slow to send the rest.
    freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model, max_wait_s=0.2)
    holding = spy_waits(engine)
    first = asyncio.ensure_future(engine.infer(rows(1), 5))
    # The thread has the first row and waits for more (without MAX_WAIT_MS it would run it).
    assert await asyncio.to_thread(holding.wait, 10)
    later = [asyncio.ensure_future(engine.infer(rows(1), 5)) for _ in range(7)]
    outs = await asyncio.gather(first, *later)
    assert len(outs) == 8 and model.batches == [8]
    engine.stop()


async def test_heartbeat_goes_stale_when_the_thread_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    model.gate.clear()
    task = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    assert engine.healthy(30)
    clock.advance(31)  # the thread is stuck in the model past the heartbeat timeout
    assert not engine.healthy(30)
    model.gate.set()
    await task
    assert engine.healthy(30)  # the finished call beat again
    engine.stop()


def _shed(reason: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("corebound_shed_requests_total", {"reason": reason}) or 0.0


async def test_a_request_expiring_in_the_queue_is_counted_as_a_deadline_shed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    model = GatedModel()
    engine = make(model)
    before = _shed("deadline")
    model.gate.clear()
    busy = asyncio.ensure_future(engine.infer(rows(1), 600))
    await asyncio.to_thread(model.entered.wait, 5)
    expiring = asyncio.ensure_future(engine.infer(rows(2), 60))
    after_it = asyncio.ensure_future(engine.infer(rows(3), 600))
    await until(lambda: engine.queued_rows == 5)  # both queued behind the busy one
    # Past its deadline on the engine's clock only: the inference thread, not the loop's
    # timer (a minute of real time away), finds it expired when it reaches the job.
    clock.advance(61)
    model.gate.set()
    with pytest.raises(DeadlineExceeded, match="expired in queue"):
        await expiring
    await asyncio.gather(busy, after_it)
    assert model.batches == [1, 3]  # taken with the job behind it; only that one ran
    assert _shed("deadline") == before + 1
    engine.stop()


async def test_each_failed_request_gets_its_own_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    freeze_clock(monkeypatch)  # the batch window closes when all three are in it
    calls: list[int] = []

    def broken(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        raise ValueError("weights corrupt")

    engine = InferenceEngine(broken, max_batch=3, max_wait_s=0.05, max_queue_rows=64, threads=1)
    engine.start()
    results = await asyncio.gather(
        *(engine.infer(rows(1), 5) for _ in range(3)), return_exceptions=True
    )
    assert calls == [3]  # one failed batch of three requests
    assert all(isinstance(r, ModelError) for r in results)
    assert len({id(r) for r in results}) == 3  # not one object collecting three tracebacks
    assert all(isinstance(r, ModelError) and isinstance(r.__cause__, ValueError) for r in results)
    engine.stop()


async def test_no_draining_state_after_stop_only_a_refusal() -> None:
    # uvicorn runs the lifespan shutdown (engine.stop) after closing the listeners: no request
    # can observe a "draining" state, so none is counted or claimed.
    engine = make(GatedModel())
    engine.stop()
    before = _shed("draining")
    with pytest.raises(Overloaded, match="stopped"):
        await engine.infer(rows(1), 5)
    assert _shed("draining") == before == 0.0


async def test_a_batch_wakes_the_loop_once_not_once_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = GatedModel()
    engine = make(model)
    model.gate.clear()
    first = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    rest = [asyncio.ensure_future(engine.infer(rows(1), 5)) for _ in range(8)]
    await until(lambda: engine.queued_rows == 8)
    loop = asyncio.get_running_loop()
    wake_ups: list[object] = []
    original = loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> object:
        wake_ups.append(args[0])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    model.gate.set()
    await asyncio.gather(first, *rest)
    assert model.batches == [1, 8]
    assert len(wake_ups) == 2  # one per batch
    engine.stop()


async def test_requests_queued_in_one_loop_turn_form_one_batch() -> None:
    model = GatedModel()
    engine = InferenceEngine(model.predict, max_batch=8, max_wait_s=0, max_queue_rows=64, threads=1)
    spy_waits(engine, idle_poll=False)  # only the engine's own wake-up can start a batch
    woken = wake_ups(engine)
    engine.start()
    # The thread is idle; all eight are queued before it is woken (once, after the turn).
    await asyncio.gather(*(engine.infer(rows(1), 5) for _ in range(8)))
    assert woken == [8] and model.batches == [8]
    engine.stop()
