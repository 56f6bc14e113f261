"""Jobs' results on their way back from the inference thread, on real asyncio loops:
one wake-up per loop and batch, each future settled once, expiry counted as a shed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from service.inference.handoff import DeadlineExceeded, Job, expire, hand_back

pytestmark = pytest.mark.anyio


def job(loop: asyncio.AbstractEventLoop, value: float = 0.0) -> Job:
    return Job(np.full((1, 2), value, np.float32), 1, loop.create_future(), loop, 0.0, 1.0)


def deadline_sheds() -> float:
    return REGISTRY.get_sample_value("corebound_shed_requests_total", {"reason": "deadline"}) or 0


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A second event loop on its own thread (another worker's requests, say)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def test_results_from_another_thread_reach_each_job_in_order() -> None:
    loop = asyncio.get_running_loop()
    jobs = [job(loop, i) for i in range(3)]
    failure = RuntimeError("model failed")
    results: list[tuple[Job, np.ndarray | BaseException]] = [
        (jobs[0], jobs[0].rows * 2),
        (jobs[1], failure),
        (jobs[2], jobs[2].rows * 2),
    ]

    await asyncio.to_thread(hand_back, results)  # as the inference thread calls it

    assert (await jobs[0].future).tolist() == [[0.0, 0.0]]
    with pytest.raises(RuntimeError, match="model failed"):
        await jobs[1].future
    assert (await jobs[2].future).tolist() == [[4.0, 4.0]]


def count_wakes(
    monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop, wakes: list[object]
) -> None:
    original = loop.call_soon_threadsafe

    def counting(*args: Any) -> asyncio.Handle:
        wakes.append(loop)
        return original(*args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)


async def first_values(jobs: list[Job]) -> list[float]:
    return [float((await j.future)[0, 0]) for j in jobs]


async def test_a_batch_wakes_each_loop_once(
    monkeypatch: pytest.MonkeyPatch, other_loop: asyncio.AbstractEventLoop
) -> None:
    loop = asyncio.get_running_loop()
    ours, theirs = [job(loop, 1) for _ in range(3)], [job(other_loop, 2) for _ in range(2)]
    wakes: list[object] = []
    count_wakes(monkeypatch, loop, wakes)
    count_wakes(monkeypatch, other_loop, wakes)

    hand_back([(j, j.rows) for j in [ours[0], theirs[0], ours[1], theirs[1], ours[2]]])

    assert sorted(map(id, wakes)) == sorted([id(loop), id(other_loop)])  # not one per job
    assert await first_values(ours) == [1.0] * 3
    theirs_settled = asyncio.run_coroutine_threadsafe(first_values(theirs), other_loop)
    assert await asyncio.wrap_future(theirs_settled) == [2.0, 2.0]


async def test_a_job_already_settled_is_skipped_and_the_rest_still_settle() -> None:
    loop = asyncio.get_running_loop()
    cancelled, expired, live = job(loop), job(loop), job(loop, 5)
    cancelled.future.cancel()  # its client went away
    expire(expired.future, 2.0)  # the loop's timer fired first

    await asyncio.to_thread(hand_back, [(j, j.rows) for j in (cancelled, expired, live)])

    assert float((await live.future)[0, 0]) == 5.0
    assert cancelled.future.cancelled()
    with pytest.raises(DeadlineExceeded):  # not overwritten by the late result
        await expired.future


async def test_expire_fails_the_request_naming_the_timeout_and_counts_a_shed() -> None:
    future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
    before = deadline_sheds()

    expire(future, 2.5)

    with pytest.raises(DeadlineExceeded, match=r"no result within REQUEST_TIMEOUT_S=2\.5 s"):
        await future
    assert deadline_sheds() == before + 1


async def test_expire_leaves_an_answered_request_alone() -> None:
    future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
    future.set_result(np.zeros((1, 2), np.float32))
    before = deadline_sheds()

    expire(future, 2.5)

    assert (await future).shape == (1, 2) and deadline_sheds() == before
