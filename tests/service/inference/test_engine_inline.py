"""The engine's one exception: an idle worker runs a cheap request on its own loop.

"Cheap" is the model time the engine measured; here the model costs 1 ms a row on the
engine's FakeClock, so what fits under INLINE_MAX_MS is exact however loaded the machine.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from engine_doubles import FakeClock, GatedModel, freeze_clock, make, rows, until

from service.inference.engine import InferenceEngine, ModelError

pytestmark = pytest.mark.anyio

ROW_COST_S = 0.001


class ThreadRecordingModel(GatedModel):
    """Also records which thread ran each batch."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, ROW_COST_S)
        self.threads: list[str] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return super().predict(batch)


async def test_an_idle_worker_runs_a_cheap_request_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ThreadRecordingModel(freeze_clock(monkeypatch))
    engine = make(model, inline_max_s=1.0, alone=lambda: True)
    first = await engine.infer(rows(1, 1.0), 5)  # no measured cost yet: the thread
    second = await engine.infer(rows(2, 3.0), 5)
    assert float(first[0, 0]) == 2.0 and second.tolist() == [[6.0] * 4] * 2
    assert model.threads == ["inference", threading.current_thread().name]
    engine.stop()


@pytest.mark.parametrize(
    ("inline_max_s", "alone"),
    [(0.0, True), (1.0, False), (ROW_COST_S / 2, True)],
    ids=["switched-off", "other-requests-in-flight", "too-costly"],
)
async def test_requests_go_to_the_thread_unless_alone_idle_and_cheap(
    monkeypatch: pytest.MonkeyPatch, inline_max_s: float, alone: bool
) -> None:
    model = ThreadRecordingModel(freeze_clock(monkeypatch))
    engine = make(model, inline_max_s=inline_max_s, alone=lambda: alone)
    for _ in range(3):
        await engine.infer(rows(1), 5)
    assert model.threads == ["inference"] * 3
    engine.stop()


async def test_nothing_runs_on_the_loop_while_the_thread_holds_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ThreadRecordingModel(freeze_clock(monkeypatch))
    alone = [False]
    engine = make(model, inline_max_s=1.0, alone=lambda: alone[0])
    await engine.infer(rows(1), 5)  # measures the cost: cheap enough to run inline
    model.entered.clear()
    model.gate.clear()
    busy = asyncio.ensure_future(engine.infer(rows(1), 5))
    await asyncio.to_thread(model.entered.wait, 5)
    alone[0] = True  # the busy request is answered: only the queue and the thread hold work
    queued = asyncio.ensure_future(engine.infer(rows(1), 5))
    await until(lambda: engine.queued_rows == 1)  # queued: an inline run never queues
    assert not queued.done()  # it waits for the thread instead of running beside it
    model.gate.set()
    await asyncio.gather(busy, queued)
    assert model.threads == ["inference"] * 3
    engine.stop()


async def test_a_model_error_on_the_loop_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    ran_on: list[str] = []

    def fails_after_warm_up(batch: np.ndarray) -> np.ndarray:
        ran_on.append(threading.current_thread().name)
        clock.advance(ROW_COST_S * len(batch))
        if len(ran_on) > 1:
            raise ValueError("broken weights")
        return batch

    engine = InferenceEngine(
        fails_after_warm_up,
        max_batch=8,
        max_wait_s=0.0,
        max_queue_rows=64,
        threads=1,
        inline_max_s=1.0,
        alone=lambda: True,
    )
    engine.start()
    await engine.infer(rows(1), 5)
    with pytest.raises(ModelError, match="ValueError: broken weights"):
        await engine.infer(rows(1), 5)
    assert ran_on == ["inference", threading.current_thread().name]
    assert engine.healthy(5)
    engine.stop()
