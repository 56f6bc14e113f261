"""The inference engine alone: batching, back-pressure, deadlines, draining, model faults."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from engine_doubles import GatedModel, make, rows, until

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
    await asyncio.sleep(0.05)
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
    await asyncio.sleep(0.01)
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


async def test_max_wait_collects_a_fuller_batch() -> None:
    model = GatedModel()
    engine = make(model, max_wait_s=0.2)
    outs = await asyncio.gather(*(engine.infer(rows(1), 5) for _ in range(5)))
    assert len(outs) == 5 and model.batches == [5]
    engine.stop()


def test_heartbeat_goes_stale_when_the_thread_is_stuck() -> None:
    model = GatedModel()
    engine = make(model)
    model.gate.clear()

    async def submit() -> None:
        task = asyncio.ensure_future(engine.infer(rows(1), 5))
        await asyncio.to_thread(model.entered.wait, 5)
        await asyncio.sleep(0.3)
        assert not engine.healthy(0.2)
        model.gate.set()
        await task
        assert engine.healthy(0.2)

    asyncio.run(submit())
    engine.stop()


def _shed(reason: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("corebound_shed_requests_total", {"reason": reason}) or 0.0


async def test_a_request_expiring_in_the_queue_is_counted_as_a_deadline_shed() -> None:
    model = GatedModel()
    engine = make(model)
    second = threading.Event()
    calls = []

    def predict(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 2:
            second.set()
        return model.predict(batch)

    engine._predict = predict
    before = _shed("deadline")
    model.gate.clear()
    busy = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    expiring = asyncio.ensure_future(engine.infer(rows(2), 0.05))
    after_it = asyncio.ensure_future(engine.infer(rows(3), 5))
    await asyncio.sleep(0)  # both queued behind the busy one
    # Block the loop (as a busy event loop does) past the deadline, so the inference thread,
    # not the loop's timer, finds it expired when it reaches the job.
    threading.Event().wait(0.1)
    model.gate.set()
    assert second.wait(10)  # the thread has passed the expired job and runs the next one
    with pytest.raises(DeadlineExceeded, match="expired in queue"):
        await expiring
    await asyncio.gather(busy, after_it)
    assert _shed("deadline") == before + 1
    engine.stop()


async def test_each_failed_request_gets_its_own_exception() -> None:
    def broken(batch: np.ndarray) -> np.ndarray:
        raise ValueError("weights corrupt")

    engine = InferenceEngine(broken, max_batch=8, max_wait_s=0.05, max_queue_rows=64, threads=1)
    engine.start()
    results = await asyncio.gather(
        *(engine.infer(rows(1), 5) for _ in range(3)), return_exceptions=True
    )
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
    await asyncio.sleep(0.05)
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
    engine = make(model)
    # The thread is idle; all eight are queued before it is woken (once, after the turn).
    await asyncio.gather(*(engine.infer(rows(1), 5) for _ in range(8)))
    assert model.batches == [8]
    engine.stop()
