"""One inference thread per worker: a bounded queue of rows, greedy micro-batching.

The event loop only enqueues and awaits; model code runs on this thread with BLAS limited
to the plan's threads, so `/healthz` answers at 100 % CPU and cores are not oversubscribed.
When the thread is free it takes everything queued (up to `max_batch` rows): many GEMVs
become one GEMM. A full queue refuses at once (503 + Retry-After) instead of timing out.

One exception: a request that finds its worker idle (nothing else in flight, nothing queued,
the thread waiting, after one loop turn that lets requests arriving with it enter) and whose
model time, as measured, is under `inline_max_s` runs on the loop itself. Handing it to the
thread and back costs two wake-ups of an idle thread, 60-80 us on a VM, which at low load is
a fifth of the whole request; the loop blocks for at most `inline_max_s`, and only while it
has nothing else to do. `alone` is the app's count of requests inside it (any server).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

from service import metrics
from service.inference import batches
from service.inference.handoff import DeadlineExceeded, Job, expire, hand_back
from service.inference.health_board import Health


class Overloaded(Exception):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelError(Exception):
    """The model raised (or returned the wrong rows); one instance per failed request."""


class InferenceEngine:
    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        max_batch: int,
        max_wait_s: float,
        max_queue_rows: int,
        threads: int,
        inline_max_s: float = 0.0,
        alone: Callable[[], bool] = lambda: False,
    ) -> None:
        self._predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue_rows = max_queue_rows
        self.threads = threads
        self.inline_max_s = inline_max_s
        self._alone = alone  # True: the calling request is the only one inside the app
        self._queue: deque[Job] = deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._wake_pending = False  # a _wake is scheduled on the loop
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._seconds_per_row = 0.001  # EWMA, only for Retry-After estimates
        self._small_call_row_s: float | None = None  # EWMA per row of calls of <= 4 rows
        self._busy = False  # the thread holds jobs it took (set and cleared by the thread)
        self.heartbeat = time.monotonic()
        # When the model call running now began (None: no call): a long call is busy, not hung.
        self.call_started: float | None = None
        self.blas_threads: dict[str, int] = {}  # as seen from the inference thread, for /info

    # --- event-loop side ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    async def infer(self, rows: Any, timeout_s: float) -> Any:
        """One request's batch (an array, or a tuple of arrays) -> its rows of the result."""
        n_rows = batches.rows_of(rows)
        if self._inline_fits(n_rows):
            # One loop turn first: requests that arrived with this one enter the app and
            # queue, so `alone` is then true only of a request that really is alone.
            await asyncio.sleep(0)
            if self._inline_fits(n_rows):
                return self._run_inline(rows)
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        job = Job(rows, n_rows, loop.create_future(), loop, now, now + timeout_s)
        with self._cond:
            if self._stopping:
                # Only reachable in-process (tests): uvicorn stops the lifespan after the
                # listeners closed, so no request arrives here once stop() ran.
                raise Overloaded("inference thread stopped", retry_after_s=1)
            if self._queued_rows + n_rows > self.max_queue_rows:
                metrics.SHED.labels(reason="queue_full").inc()
                raise Overloaded(
                    f"queue full: {self._queued_rows} rows waiting, limit {self.max_queue_rows}",
                    retry_after_s=self._retry_after(),
                )
            self._queue.append(job)
            self._queued_rows += n_rows
            metrics.QUEUE_ROWS.inc(n_rows)
        if not self._wake_pending:
            # Wake the thread once the loop has run every request it could run now: they all
            # queue first and form one batch, and the loop pays one notify per turn, not one
            # per request. One loop turn later than at once; nothing waits on a timer.
            self._wake_pending = True
            loop.call_soon(self._wake)
        # A timer on the future itself, not asyncio.wait_for: no second future and no
        # callbacks to unhook per request. A cancelled request cancels the future, which the
        # inference thread then skips.
        timer = loop.call_later(timeout_s, expire, job.future, timeout_s)
        try:
            return await job.future
        finally:
            timer.cancel()

    def _inline_fits(self, n_rows: int) -> bool:
        # Unlocked reads: only this loop appends to the queue, and the thread sets _busy
        # before it pops, so an empty queue and an idle thread stay so while this runs.
        per_row = self._small_call_row_s
        return (
            per_row is not None
            and n_rows * per_row <= self.inline_max_s
            and not self._queue
            and not self._busy
            and not self._stopping
            and self._alone()
        )

    def _run_inline(self, rows: Any) -> Any:
        metrics.INLINE.inc()
        metrics.QUEUE_WAIT.observe(0.0)
        try:
            return self._call(rows)
        except Exception as exc:
            raise _model_error(f"model failed: {type(exc).__name__}: {exc}", exc) from None

    def _call(self, batch: Any) -> Any:
        """The model on one batch, timed and counted; raises what the model raised."""
        rows = batches.rows_of(batch)
        started = time.perf_counter()
        self.call_started = time.monotonic()
        try:
            outputs = batches.checked(self._predict(batch), rows)
        finally:
            self.heartbeat = time.monotonic()
            self.call_started = None
        elapsed = time.perf_counter() - started
        per_row = elapsed / rows
        self._seconds_per_row = 0.8 * self._seconds_per_row + 0.2 * per_row
        if rows <= 4:
            last = self._small_call_row_s
            self._small_call_row_s = per_row if last is None else 0.8 * last + 0.2 * per_row
        metrics.INFERENCE_SECONDS.observe(elapsed)
        metrics.BATCH_ROWS.observe(rows)
        return outputs

    def _wake(self) -> None:
        self._wake_pending = False
        with self._cond:
            self._cond.notify()

    def _retry_after(self) -> int:
        return max(1, math.ceil(self._queued_rows * self._seconds_per_row))

    def healthy(self, heartbeat_timeout_s: float, max_call_s: float | None = None) -> bool:
        """Alive: the thread runs and either waits (heartbeat fresh) or is in a model call
        younger than `max_call_s` (MAX_CALL_S): a long call is busy, a longer one hung."""
        return self.health().stall(heartbeat_timeout_s, max_call_s or heartbeat_timeout_s) is None

    def health(self) -> Health:
        """The thread's state now: what this worker's probes judge and its siblings read."""
        # call_started first: a call ending in between leaves a fresh heartbeat, never a
        # finished call's start.
        started = self.call_started
        return Health(
            pid=os.getpid(),
            at=time.monotonic(),
            thread_alive=self._thread.is_alive(),
            heartbeat=self.heartbeat,
            call_started=started,
        )

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish everything accepted, then end the thread (called after the server drained)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # --- inference thread -------------------------------------------------------------------

    def _run(self) -> None:
        with threadpool_limits(limits=self.threads):
            self.blas_threads = {p["internal_api"]: p["num_threads"] for p in threadpool_info()}
            while True:
                jobs = self._take()
                if jobs is None:
                    return
                try:
                    self._process(jobs)
                finally:
                    self._busy = False

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait(timeout=1.0)
                self.heartbeat = time.monotonic()
            if self.max_wait_s > 0:
                until = self._queue[0].enqueued + self.max_wait_s
                while self._queued_rows < self.max_batch and not self._stopping:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(timeout=left)
            self._busy = True
            jobs = [self._queue.popleft()]  # the first always goes, even if larger than a batch
            rows = jobs[0].n_rows
            while self._queue and rows + self._queue[0].n_rows <= self.max_batch:
                job = self._queue.popleft()
                rows += job.n_rows
                jobs.append(job)
            self._queued_rows -= rows
            metrics.QUEUE_ROWS.dec(rows)
            return jobs

    def _process(self, jobs: list[Job]) -> None:
        now = time.monotonic()
        live: list[Job] = []
        expired: list[Job] = []
        for job in jobs:
            if job.future.done():  # its request already timed out or went away
                continue
            if now > job.deadline:
                metrics.SHED.labels(reason="deadline").inc()
                expired.append(job)
                continue
            metrics.QUEUE_WAIT.observe(now - job.enqueued)
            live.append(job)
        if expired:
            hand_back([(job, DeadlineExceeded("expired in queue")) for job in expired])
        if not live:
            return
        batch = live[0].rows if len(live) == 1 else batches.join([j.rows for j in live])
        try:
            outputs = self._call(batch)
        except Exception as exc:  # a model bug fails its batch, never the thread
            message = f"model failed: {type(exc).__name__}: {exc}"
            # A fresh exception per request: one shared object would collect every
            # awaiting task's traceback frames.
            self._busy = False  # before the loop wakes: its next request may then run inline
            hand_back([(job, _model_error(message, exc)) for job in live])
            return
        results: list[tuple[Job, Any]] = []
        offset = 0
        for job in live:
            stop = offset + job.n_rows
            results.append((job, batches.take(outputs, offset, stop)))
            offset = stop
        self._busy = False
        hand_back(results)


def _model_error(message: str, cause: Exception) -> ModelError:
    error = ModelError(message)
    error.__cause__ = cause
    return error
