"""A model the engine tests control, the engine around it, and its clock and waits.

No test here sleeps or compares wall-clock durations: the inference thread is held on events,
the engine's own clock is a `FakeClock` the test moves, and waiting for the thread means
waiting for an event it sets (`until` only bounds a wait that must end).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from service.inference import engine as engine_module
from service.inference.engine import InferenceEngine


class FakeClock:
    """The engine's `time` (monotonic and perf_counter): still unless a test or model moves it.

    Deadlines, the heartbeat's age, the MAX_WAIT_MS window and the measured model cost are
    then what the test says, however loaded the machine. asyncio's own timers keep real time.
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def freeze_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The engine module reads a FakeClock from now on (call before building the engine)."""
    clock = FakeClock()
    monkeypatch.setattr(engine_module, "time", clock)
    return clock


class GatedModel:
    """Records each batch; blocks on a gate so tests control when the thread is busy.

    With a `clock`, each call costs `cost_s` per row on it: the engine measures exactly that.
    """

    def __init__(self, clock: FakeClock | None = None, cost_s: float = 0.001) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.clock = clock
        self.cost_s = cost_s

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.entered.set()
        self.gate.wait(10)
        if self.clock is not None:
            self.clock.advance(self.cost_s * len(batch))
        self.batches.append(len(batch))
        return batch * 2


def make(model: GatedModel, **kw: Any) -> InferenceEngine:
    options = {"max_batch": 8, "max_wait_s": 0.0, "max_queue_rows": 64, "threads": 1, **kw}
    engine = InferenceEngine(model.predict, **options)
    engine.start()
    return engine


def spy_waits(engine: InferenceEngine, *, idle_poll: bool = True) -> threading.Event:
    """Watches the inference thread wait on the engine's condition.

    Returns an event set once the thread waits with jobs queued: it holds them open for a
    fuller batch (MAX_WAIT_MS), since its idle wait only ever waits on an empty queue.
    `idle_poll=False`: the idle wait ends only when the engine notifies it, not on its 1 s
    heartbeat poll, so the thread cannot wake in the middle of a loop turn that is queueing.
    """
    holding = threading.Event()
    condition = engine._cond
    wait = condition.wait

    def watched(timeout: float | None = None) -> bool:
        if engine._queue:
            holding.set()
        elif not idle_poll:
            timeout = None
        return wait(timeout)

    condition.wait = watched  # type: ignore[method-assign]
    return holding


def wake_ups(engine: InferenceEngine) -> list[int]:
    """The rows queued each time the engine notifies its thread (a wake-up), in order."""
    seen: list[int] = []
    condition = engine._cond
    notify = condition.notify

    def counted(n: int = 1) -> None:
        seen.append(engine.queued_rows)
        notify(n)

    condition.notify = counted  # type: ignore[method-assign]
    return seen


async def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Yields to the loop until `condition` holds; fails after `timeout_s` (never a race)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.001)


def rows(n: int, value: float = 1.0) -> np.ndarray:
    return np.full((n, 4), value, np.float32)
