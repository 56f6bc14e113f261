"""A model the engine tests control, and the engine around it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from service.inference.engine import InferenceEngine


class GatedModel:
    """Records each batch; blocks on a gate so tests control when the thread is busy."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(batch))
        return batch * 2


def make(model: GatedModel, **kw: Any) -> InferenceEngine:
    options = {"max_batch": 8, "max_wait_s": 0.0, "max_queue_rows": 64, "threads": 1, **kw}
    engine = InferenceEngine(model.predict, **options)
    engine.start()
    return engine


async def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Yields to the loop until `condition` holds; fails after `timeout_s` (never a race)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.001)


def rows(n: int, value: float = 1.0) -> np.ndarray:
    return np.full((n, 4), value, np.float32)
