"""service/jobs/task.py run by Celery in process (eagerly) on a real redis-server: each run
counted in our record, the answer kept, the poison guard, and redeliveries of finished or
expired jobs ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from app_client import NAME, SETTINGS, features
from redis_server import RedisServer, run_redis

from service.jobs import execute, task
from service.jobs.celery_app import TASK_NAME, create_celery
from service.jobs.record import new_record, record_key
from service.settings import Settings
from service.sizing.planning import plan_for

BODY = {"kind": "predict", "body": json.dumps({"inputs": [features()]}), "model_name": NAME}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with run_redis() as s:
        yield s


@pytest.fixture(scope="module")
def run(server: RedisServer) -> Iterator[Any]:
    settings = SETTINGS.model_copy(
        update={"redis_url": Settings(redis_url=server.url).redis_url, "job_max_runs": 2}
    )
    app = create_celery(settings)
    task.register(app, settings)
    execute.load(settings, plan_for(settings))

    def apply(job_id: str) -> Any:
        return app.tasks[TASK_NAME].apply(kwargs=BODY, task_id=job_id)

    yield apply
    execute.Loaded.model = None


def create(server: RedisServer, job_id: str, **fields: str) -> None:
    for key, value in {**new_record("predict", "t0"), **fields}.items():
        server.call("HSET", record_key(job_id), key, value)


def read(server: RedisServer, job_id: str) -> dict[str, str]:
    found: dict[str, str] = server.call("HGETALL", record_key(job_id))
    return found


def test_a_run_is_counted_and_its_answer_returned(server: RedisServer, run: Any) -> None:
    create(server, "a")

    result = run("a")

    assert result.state == "SUCCESS" and result.result["labels"] == ["4"]
    after = read(server, "a")
    assert (after["status"], after["runs"]) == ("succeeded", "1")
    assert after["started_at"] <= after["finished_at"]


def test_a_job_whose_worker_died_too_often_fails(server: RedisServer, run: Any) -> None:
    create(server, "b", runs="2", status="running")  # JOB_MAX_RUNS=2 runs started already

    result = run("b")

    assert result.state == "FAILURE"
    after = read(server, "b")
    assert (after["status"], after["runs"]) == ("failed", "3")
    assert after["error"] == "worker lost 2 times running it (JOB_MAX_RUNS=2)"


@pytest.mark.parametrize("finished", [True, False], ids=["finished", "expired"])
def test_a_redelivered_finished_or_expired_job_is_ignored(
    server: RedisServer, run: Any, finished: bool
) -> None:
    job_id = f"c-{finished}"
    if finished:
        create(server, job_id, status="succeeded")

    result = run(job_id)

    assert result.state == "IGNORED"
    if finished:
        assert read(server, job_id)["runs"] == "0"
    else:
        assert server.call("EXISTS", record_key(job_id)) == 0  # not made again


def test_a_process_without_a_model_puts_the_job_back_uncounted(
    server: RedisServer, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(server, "d")
    monkeypatch.setattr(execute.Loaded, "model", None)

    result = run("d")

    assert result.state == "REJECTED"  # requeued for a process that has the model
    assert read(server, "d")["runs"] == "0"
