"""The job API for real: redis-server, gunicorn with JOBS_ENABLED and `python -m
service.jobs.worker` processes on the embedded default model. A job answers exactly what the
sync route answers; it takes far more rows; a bad body is refused as /v1/predict refuses it
and never queued; a full queue is 503 + Retry-After; jobs off are 404.
(Faults: test_jobs_faults_live.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from job_polling import jobs_env, submit, succeeded
from paths import REPO
from predict_cases import BAD_V1, JOB_LIMITS_ENV, LIMITS_ENV
from redis_server import RedisServer, run_redis
from serving import Service, holdout, run_service

from scripts.local.job_worker import JobWorker, run_job_worker

NAME = "digits-mlp"
QUEUE = "corebound-jobs"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with run_redis() as server:
        yield server


@pytest.fixture(scope="module")
def heartbeat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs") / "heartbeat"


@pytest.fixture(scope="module")
def api(redis_server: RedisServer, heartbeat: Path) -> Iterator[Service]:
    with run_service(jobs_env(redis_server.url, heartbeat), wait_workers=2) as svc:
        yield svc


@pytest.fixture(scope="module")
def worker(redis_server: RedisServer, heartbeat: Path) -> Iterator[JobWorker]:
    with run_job_worker(jobs_env(redis_server.url, heartbeat)) as w:
        yield w


@pytest.fixture
def http(api: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        yield client


def infer_body(rows: list[list[int]], **extra: object) -> dict[str, object]:
    tensor = {"name": "input-0", "shape": [len(rows), 64], "datatype": "FP32", "data": rows}
    return {"inputs": [tensor], **extra}


def test_jobs_answer_exactly_what_the_sync_routes_answer(
    http: httpx.Client, worker: JobWorker, heartbeat: Path
) -> None:
    rows = holdout()[0][:40]
    version = http.get(f"/v2/models/{NAME}").json()["versions"][0]
    v2 = f"/v2/models/{NAME}/versions/{version}"
    cases = [
        ("/v1/jobs", "/v1/predict", {"inputs": rows}),
        (f"/v2/models/{NAME}/jobs", f"/v2/models/{NAME}/infer", infer_body(rows, id="req-7")),
        (f"{v2}/jobs", f"{v2}/infer", infer_body(rows[:3], id="req-8")),
    ]
    for job_path, sync_path, body in cases:
        job = succeeded(http, submit(http, job_path, body))
        sync = http.post(sync_path, json=body).json()

        assert job["result"] == sync, job_path
        assert job["runs"] == 1 and job["submitted_at"] <= job["started_at"] <= job["finished_at"]
    assert worker.plan() is not None and worker.plan()["role"] == "jobs"  # type: ignore[index]
    probe = subprocess.run(
        [sys.executable, "-m", "service.jobs.probe"], cwd=REPO, capture_output=True, text=True,
        env={"JOB_HEARTBEAT_FILE": str(heartbeat), "PATH": ""},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout


def test_a_job_takes_far_more_rows_than_a_request(http: httpx.Client, worker: JobWorker) -> None:
    inputs, labels = holdout()
    copies = 3000 // len(inputs) + 1
    rows, truth = (inputs * copies)[:3000], (labels * copies)[:3000]  # a request: 256 rows

    job = succeeded(http, submit(http, "/v1/jobs", {"inputs": rows}))

    result = job["result"]
    assert len(result["outputs"]) == len(result["labels"]) == 3000
    sync = http.post("/v1/predict", json={"inputs": rows[:256]}).json()
    assert result["labels"][:256] == sync["labels"]
    # One model call of 3000 rows against one of 256: the same rows, up to float32 rounding.
    difference = np.abs(np.asarray(result["outputs"][:256]) - np.asarray(sync["outputs"])).max()
    assert difference < 1e-6
    accuracy = sum(a == b for a, b in zip(result["labels"], truth, strict=True)) / 3000
    print(f"a 3000-row job: accuracy {accuracy:.3f}; {difference:.1e} off the sync answers")
    assert accuracy >= 0.95


def test_a_job_over_job_max_rows_is_refused_like_an_oversized_request(
    http: httpx.Client, redis_server: RedisServer
) -> None:
    job = http.post("/v1/jobs", json={"inputs": [[1] * 64] * 4097})  # JOB_MAX_ROWS 4096
    sync = http.post("/v1/predict", json={"inputs": [[1] * 64] * 257})  # 256

    assert job.status_code == sync.status_code == 422, job.text
    assert "at most 4096 per request (JOB_MAX_ROWS)" in job.json()["detail"]
    assert "at most 256 per request (MAX_ROWS_PER_REQUEST)" in sync.json()["detail"]
    assert redis_server.call("LLEN", QUEUE) == 0


@pytest.fixture(scope="module")
def strict_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, RedisServer]]:
    """Job limits equal to the sync ones (the bad-body table's), a queue of 3, no worker."""
    env = {**LIMITS_ENV, **JOB_LIMITS_ENV, "JOB_MAX_QUEUED": "3", "JOB_RETRY_AFTER_S": "7"}
    with run_redis() as server:
        beat = tmp_path_factory.mktemp("strict") / "heartbeat"
        with run_service(jobs_env(server.url, beat, **env)) as svc:
            yield svc, server


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD_V1)
def test_a_bad_body_is_refused_as_predict_refuses_it_and_never_queued(
    strict_api: tuple[Service, RedisServer], body: bytes, content_type: str, status: int,
    words: str,
) -> None:  # fmt: skip
    svc, server = strict_api
    headers = {"content-type": content_type} if content_type else {}

    job = httpx.post(svc.url + "/v1/jobs", content=body, headers=headers, timeout=30)
    sync = httpx.post(svc.url + "/v1/predict", content=body, headers=headers, timeout=30)

    assert (job.status_code, sync.status_code) == (status, status), job.text
    assert words in job.json()["detail"]
    assert server.call("LLEN", QUEUE) == 0


def test_a_full_queue_answers_503_with_retry_after(strict_api: tuple[Service, RedisServer]) -> None:
    svc, server = strict_api
    body = {"inputs": [[1.0] * 64]}
    with httpx.Client(base_url=svc.url, timeout=30) as client:
        answers = [client.post("/v1/jobs", json=body) for _ in range(4)]
        queued = [client.get(a.headers["location"]).json()["status"] for a in answers[:3]]

    assert [a.status_code for a in answers] == [202, 202, 202, 503]
    assert answers[3].headers["retry-after"] == "7"
    assert "JOB_MAX_QUEUED=3" in answers[3].json()["detail"]
    assert queued == ["queued"] * 3 and server.call("LLEN", QUEUE) == 3
    server.call("DEL", QUEUE)


def test_jobs_off_every_job_route_is_404_naming_the_switch() -> None:
    with run_service({"WEB_CONCURRENCY": "1"}) as svc, httpx.Client(base_url=svc.url) as client:
        answers = [
            client.post("/v1/jobs", json={"inputs": [[1.0] * 64]}),
            client.post(f"/v2/models/{NAME}/jobs", json=infer_body([[1] * 64])),
            client.get("/v1/jobs/1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        ]
    for answer in answers:
        assert answer.status_code == 404
        assert "JOBS_ENABLED" in answer.text and "jobs.enabled" in answer.text
