"""Jobs between the event loop and the inference thread, and their results' way back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from service import metrics


class DeadlineExceeded(Exception):
    pass


@dataclass(slots=True)
class Job:
    rows: Any  # an array, or a tuple of arrays (service/inference/batches.py)
    n_rows: int
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    enqueued: float
    deadline: float


def _settle(results: list[tuple[asyncio.Future[Any], Any]]) -> None:
    # Runs on the loop, once per batch: one wake-up of the loop for all of the batch's requests.
    for future, result in results:
        if future.done():  # its request timed out or went away meanwhile
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def expire(future: asyncio.Future[Any], timeout_s: float) -> None:
    if not future.done():
        metrics.SHED.labels(reason="deadline").inc()
        message = f"no result within REQUEST_TIMEOUT_S={timeout_s:g} s"
        future.set_exception(DeadlineExceeded(message))


def hand_back(results: list[tuple[Job, Any]]) -> None:
    """One call_soon_threadsafe per event loop and batch (each call wakes its loop)."""
    by_loop: dict[
        asyncio.AbstractEventLoop,
        list[tuple[asyncio.Future[Any], Any]],
    ] = {}
    for job, result in results:
        by_loop.setdefault(job.loop, []).append((job.future, result))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled)
