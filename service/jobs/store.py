"""The job worker's writes to our job records (redis-py, blocking: a worker does one thing).

Each write is one Lua script, so a record is never half updated and never re-created once
it expired (a write to a missing key would make a record nobody submitted).
"""

from __future__ import annotations

import logging
import os

import redis

from service.jobs.record import now, record_key
from service.settings import Settings

log = logging.getLogger("corebound")

# Returns the runs so far (this one included); -1: the job already finished (a redelivery
# after its result was stored: nothing to do); -2: no record (expired or never submitted).
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -2 end
if status == 'succeeded' or status == 'failed' then return -1 end
local runs = redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return runs
"""
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
ALREADY_FINISHED = -1
NO_RECORD = -2


class RecordStore:
    def __init__(self, client: redis.Redis, ttl_s: int, visibility_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.pending_ttl_s = ttl_s + visibility_s  # a running job outlives a redelivery
        self._start = client.register_script(_START)
        self._finish = client.register_script(_FINISH)

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordStore:
        client = redis.Redis.from_url(
            settings.redis_url_text(),
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=10,
            health_check_interval=30,
        )
        return cls(client, settings.job_result_ttl_s, settings.job_visibility_s)

    def start(self, job_id: str) -> int:
        """This run's number (1 the first time), or ALREADY_FINISHED or NO_RECORD."""
        return int(self._start(keys=[record_key(job_id)], args=[now(), self.pending_ttl_s]))

    def finish(self, job_id: str, status: str, error: str = "") -> None:
        """Succeeded or failed: kept JOB_RESULT_TTL_S from now, as Celery keeps its result."""
        self._finish(keys=[record_key(job_id)], args=[status, now(), self.ttl_s, error])

    def try_finish(self, job_id: str, status: str, error: str = "") -> None:
        """finish(), logged instead of raised: the result is Celery's to keep either way."""
        try:
            self.finish(job_id, status, error)
        except redis.RedisError as exc:
            log.warning("job %s: its record could not be updated (%s): %s", job_id, status, exc)


_stores: dict[tuple[int, Settings], RecordStore] = {}


def store_for(settings: Settings) -> RecordStore:
    """One store per process and settings: a Redis connection never crosses a fork."""
    key = (os.getpid(), settings)
    if key not in _stores:
        if any(pid != key[0] for pid, _ in _stores):
            _stores.clear()  # the parent's, inherited by a fork
        _stores[key] = RecordStore.from_settings(settings)
    return _stores[key]
