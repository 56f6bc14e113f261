"""The job API under faults, for real (redis-server, gunicorn, job workers): a worker killed
mid-job loses nothing (the job runs again after the visibility timeout), a job over its
time limit fails and is not run again, results expire, and Redis going away is 503 +
Retry-After until it is back, when work resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from job_polling import jobs_env, submit, succeeded, wait_for
from paths import REPO
from redis_server import RedisServer, run_redis
from serving import Service, run_service

from scripts.local.job_worker import run_job_worker, worker_command
from scripts.local.service import clean_env

# tests/long_call_model.py: a call sleeps row 0's first value in seconds.
SLOW = {"MODEL_CLASS": "tests.long_call_model:load", "WEB_CONCURRENCY": "1"}
LIMITS = {"JOB_TIME_LIMIT_S": "4", "JOB_VISIBILITY_TIMEOUT_S": "8"}


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with run_redis() as server:
        yield server


@pytest.fixture(scope="module")
def slow_env(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    beat = tmp_path_factory.mktemp("slow") / "heartbeat"
    return jobs_env(redis_server.url, beat, **SLOW, **LIMITS)


@pytest.fixture(scope="module")
def slow_api(slow_env: dict[str, str]) -> Iterator[Service]:
    with run_service(slow_env) as svc:
        yield svc


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_worker_killed_mid_job_runs_it_again_after_the_visibility_timeout(
    slow_api: Service, slow_env: dict[str, str], redis_server: RedisServer
) -> None:
    with httpx.Client(base_url=slow_api.url, timeout=30) as http:
        with run_job_worker(slow_env) as first:
            location = submit(http, "/v1/jobs", {"inputs": [[3.0]]})  # a 3 s call
            running = wait_for(http, location, ("running",), timeout_s=30)
            os.killpg(first.process.pid, signal.SIGKILL)  # the whole worker, as a lost pod
            killed_at = time.time()
        with run_job_worker(slow_env):
            job = succeeded(http, location, timeout_s=60)
    assert running["runs"] == 1
    again = stamp(job["started_at"])
    print(f"killed mid-job; run 2 started {again - killed_at:.1f} s after the kill")
    assert job["runs"] == 2 and job["result"] == {"outputs": [[3.0]], "labels": []}
    # Not before the message was 8 s unacknowledged (JOB_VISIBILITY_TIMEOUT_S).
    assert again - stamp(running["started_at"]) >= 8
    assert redis_server.call("HLEN", "unacked") == 0  # acknowledged at last


def test_a_killed_pool_process_has_its_job_run_again_at_once(
    slow_api: Service, slow_env: dict[str, str]
) -> None:
    # Billiard may take up to 10 s (its lost-worker timeout) to call a child lost: the time
    # limit must outlast that, or the job's hard limit fires first and fails it.
    env = {**slow_env, "JOB_TIME_LIMIT_S": "30", "JOB_VISIBILITY_TIMEOUT_S": "120"}
    with (
        httpx.Client(base_url=slow_api.url, timeout=30) as http,
        run_job_worker(env) as worker,
    ):
        location = submit(http, "/v1/jobs", {"inputs": [[2.0]]})
        running = wait_for(http, location, ("running",), timeout_s=30)
        for child in worker.child_pids():
            os.kill(child, signal.SIGKILL)  # the main process sees its child lost
        job = succeeded(http, location, timeout_s=60)

    # task_reject_on_worker_lost: back in the queue at once, long before the visibility timeout.
    assert job["runs"] == 2
    assert stamp(job["started_at"]) - stamp(running["started_at"]) < 30


def test_sigterm_lets_the_running_job_finish(slow_api: Service, slow_env: dict[str, str]) -> None:
    with (
        httpx.Client(base_url=slow_api.url, timeout=30) as http,
        run_job_worker(slow_env) as worker,
    ):
        location = submit(http, "/v1/jobs", {"inputs": [[2.0]]})
        wait_for(http, location, ("running",), timeout_s=30)
        worker.process.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        job = succeeded(http, location, timeout_s=30)
        exit_code = worker.process.wait(30)

    assert job["runs"] == 1 and exit_code == 0


def test_a_job_over_its_time_limit_fails_and_is_not_run_again(
    slow_api: Service, slow_env: dict[str, str], redis_server: RedisServer
) -> None:
    with (
        httpx.Client(base_url=slow_api.url, timeout=30) as http,
        run_job_worker(slow_env) as worker,
    ):
        over = submit(http, "/v1/jobs", {"inputs": [[6.0]]})  # JOB_TIME_LIMIT_S is 4
        failed = wait_for(http, over, timeout_s=30)
        after = succeeded(http, submit(http, "/v1/jobs", {"inputs": [[0.0]]}))
        log = worker.log()

    assert failed["status"] == "failed" and failed["runs"] == 1, failed
    assert "longer than JOB_TIME_LIMIT_S (4 s)" in failed["error"]
    assert stamp(failed["finished_at"]) - stamp(failed["started_at"]) == pytest.approx(4, abs=1.5)
    assert "result" not in failed and after["runs"] == 1  # a new child took the next job
    assert redis_server.call("HLEN", "unacked") == 0  # acknowledged: never delivered again
    assert "Hard time limit (4s) exceeded" in log


def test_a_finished_job_expires_after_job_result_ttl_s(tmp_path: Path) -> None:
    with run_redis() as server:
        env = jobs_env(server.url, tmp_path / "beat", JOB_RESULT_TTL_S="2", WEB_CONCURRENCY="1")
        with run_service(env) as svc, run_job_worker(env), httpx.Client(base_url=svc.url) as http:
            location = submit(http, "/v1/jobs", {"inputs": [[1.0] * 64]})
            job = succeeded(http, location)
            finished = time.monotonic()
            while (gone := http.get(location)).status_code == 200:
                assert time.monotonic() - finished < 10, gone.text
                time.sleep(0.2)
            keys = server.call("KEYS", f"*{job['id']}*")

    assert gone.status_code == 404
    assert gone.json()["detail"] == (
        f"no job {job['id']}: unknown, or finished more than JOB_RESULT_TTL_S=2 s ago"
    )
    assert keys == []  # our record and Celery's result both gone


def test_redis_down_is_503_with_retry_after_then_work_resumes(tmp_path: Path) -> None:
    with run_redis(tmp_path / "redis", aof=True) as server:
        env = jobs_env(server.url, tmp_path / "beat", WEB_CONCURRENCY="1")
        with run_service(env) as svc, run_job_worker(env), httpx.Client(base_url=svc.url) as http:
            before = submit(http, "/v1/jobs", {"inputs": [[1.0] * 64]})
            answer = succeeded(http, before)["result"]
            server.stop()
            down = [http.post("/v1/jobs", json={"inputs": [[1.0] * 64]}), http.get(before)]
            time.sleep(6)  # a beat is due every 5 s: waiting for Redis is no reason to restart
            beat_age = time.time() - (tmp_path / "beat").stat().st_mtime
            server.start()
            resumed = succeeded(http, submit(http, "/v1/jobs", {"inputs": [[1.0] * 64]}))
            kept = http.get(before).json()

    for response in down:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"].startswith("job queue unavailable: ")
    assert beat_age < 6
    assert resumed["result"] == answer
    assert kept["status"] == "succeeded" and kept["result"] == answer  # the AOF kept it


def test_a_model_that_does_not_load_stops_the_worker_with_exit_1(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # Celery only logs a failed worker_process_init: a pool process without a model would
    # otherwise take jobs (and fail them all).
    env = jobs_env(redis_server.url, tmp_path / "beat", MODEL_CLASS="tests.long_call_model:gone")
    done = subprocess.run(
        worker_command(), cwd=REPO, env=clean_env(env), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert done.returncode == 1
    assert "the model does not load" in done.stdout + done.stderr
    assert "has no attribute 'gone'" in done.stdout + done.stderr
