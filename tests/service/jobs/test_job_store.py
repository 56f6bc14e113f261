"""service/jobs/store.py against a real redis-server: a run counted as it starts, finished
records kept JOB_RESULT_TTL_S, and never a record re-made once it expired."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_server import RedisServer, redis_server

from service.jobs.record import new_record, record_key
from service.jobs.store import ALREADY_FINISHED, NO_RECORD, RecordStore, store_for
from service.settings import Settings

__all__ = ["redis_server"]  # the fixture, imported for this module
ID = "job-1"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis_server.client(decode_responses=True) as c:
        yield c


@pytest.fixture
def store(client: redis.Redis) -> RecordStore:
    return RecordStore(client, ttl_s=100, visibility_s=50)


def submitted(client: redis.Redis) -> None:
    fields: dict[Any, Any] = new_record("infer", "2026-01-01T00:00:00+00:00")
    client.hset(record_key(ID), mapping=fields)


def test_each_start_counts_a_run_and_says_running(client: redis.Redis, store: RecordStore) -> None:
    submitted(client)

    assert [store.start(ID), store.start(ID)] == [1, 2]

    record: dict[str, str] = client.hgetall(record_key(ID))  # type: ignore[assignment]
    assert (record["status"], record["runs"], record["kind"]) == ("running", "2", "infer")
    assert record["started_at"] > record["submitted_at"]
    assert 140 < client.ttl(record_key(ID)) <= 150  # TTL + visibility while it runs


def test_a_finished_job_is_not_started_again(client: redis.Redis, store: RecordStore) -> None:
    submitted(client)
    store.start(ID)

    store.finish(ID, "succeeded")

    assert store.start(ID) == ALREADY_FINISHED
    record = client.hgetall(record_key(ID))
    assert (record["status"], record["runs"]) == ("succeeded", "1")
    assert "finished_at" in record and "error" not in record
    assert 90 < client.ttl(record_key(ID)) <= 100  # JOB_RESULT_TTL_S from now


def test_a_failure_keeps_its_message(client: redis.Redis, store: RecordStore) -> None:
    submitted(client)

    store.finish(ID, "failed", "model failed: ValueError: no")

    assert client.hget(record_key(ID), "error") == "model failed: ValueError: no"


def test_an_expired_record_is_never_made_again(client: redis.Redis, store: RecordStore) -> None:
    assert store.start(ID) == NO_RECORD
    store.finish(ID, "succeeded")

    assert client.exists(record_key(ID)) == 0


def test_redis_trouble_while_finishing_is_logged_not_raised(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    s = Settings(redis_url=redis_server.url.replace(redis_server.password, "wrong"))
    store = store_for(s)

    store.try_finish(ID, "failed", "x")

    assert store_for(s) is store  # one per process
    assert "could not be updated" in caplog.text
