"""The API's side of the job queue: submit a validated body, read a job back.

One per gunicorn worker, made in the lifespan. Reads and record writes go through
redis.asyncio; Celery publishes blocking, so it runs in a thread. Every Redis or broker
failure becomes JobsUnavailable (503 + Retry-After), never a server error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from service.jobs.celery_app import TASK_NAME, create_celery
from service.jobs.record import new_record, now, record_key, result_key, view
from service.settings import Settings

log = logging.getLogger("corebound")
TROUBLE = (RedisError, KombuError, OSError, TimeoutError)


class JobsUnavailable(Exception):
    """503: the queue is full or Redis cannot be reached; try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class JobClient:
    def __init__(self, settings: Settings) -> None:
        s = settings
        self.settings = s
        self.timeout_s = s.request_timeout_s
        self.redis = aioredis.Redis.from_url(
            s.redis_url_text(),
            decode_responses=True,
            socket_connect_timeout=min(5.0, s.request_timeout_s),
            socket_timeout=min(5.0, s.request_timeout_s),
        )
        self.celery = create_celery(s, results=False)

    async def close(self) -> None:
        await self.redis.aclose()
        await asyncio.to_thread(self.celery.close)

    def _unavailable(self, exc: BaseException) -> JobsUnavailable:
        reason = str(exc) or type(exc).__name__
        return JobsUnavailable(f"job queue unavailable: {reason}", self.settings.job_retry_after_s)

    async def submit(self, kind: str, body: str, model_name: str, version: str | None) -> str:
        """Queues a job whose body was validated; its id. JobsUnavailable when full or down."""
        s = self.settings
        job_id = str(uuid.uuid4())
        key = record_key(job_id)
        try:
            async with asyncio.timeout(self.timeout_s):
                queued = await self.redis.llen(s.job_queue)
                if queued >= s.job_max_queued:
                    raise JobsUnavailable(
                        f"job queue full: {queued} jobs queued (JOB_MAX_QUEUED={s.job_max_queued})",
                        s.job_retry_after_s,
                    )
                fields: dict[Any, Any] = new_record(kind, now())  # redis-py's Mapping type
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, s.job_result_ttl_s + s.job_visibility_s)
                    await pipe.execute()
        except TROUBLE as exc:
            raise self._unavailable(exc) from None
        message = {"kind": kind, "body": body, "model_name": model_name, "model_version": version}
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.to_thread(self._publish, job_id, message)
        except TROUBLE as exc:
            await self._forget(key)
            raise self._unavailable(exc) from None
        return job_id

    def _publish(self, job_id: str, message: dict[str, Any]) -> None:
        self.celery.send_task(
            TASK_NAME, kwargs=message, task_id=job_id, queue=self.settings.job_queue
        )

    async def _forget(self, key: str) -> None:
        # Not queued after all: no record claims it is (a late publish then finds none).
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.delete(key)
        except TROUBLE as exc:
            log.warning("%s: not queued, and its record could not be removed: %s", key, exc)

    async def status(self, job_id: str) -> dict[str, Any] | None:
        """The job as GET answers it; None when unknown or expired."""
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.hgetall(record_key(job_id))
                    pipe.get(result_key(job_id))
                    record, raw = await pipe.execute()
        except TROUBLE as exc:
            raise self._unavailable(exc) from None
        return view(job_id, record, _meta(job_id, raw))

    async def queued(self) -> int:
        """Jobs waiting in the queue (LLEN): not those a worker took."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return int(await self.redis.llen(self.settings.job_queue))
        except TROUBLE as exc:
            raise self._unavailable(exc) from None


def _meta(job_id: str, raw: str | None) -> dict[str, Any] | None:
    """Celery's stored result, or None (absent, or not the JSON it writes)."""
    if not raw:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        log.warning("job %s: its stored result is not JSON; taken as absent", job_id)
        return None
    return meta if isinstance(meta, dict) else None
