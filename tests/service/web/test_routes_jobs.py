"""service/web/routes/jobs.py in process, on a real redis-server and no job worker: a valid
body is queued (202 + Location, one message, our record), a bad one refused exactly as the
sync route refuses it with nothing queued; full or unreachable Redis is 503 + Retry-After;
off, every job route is 404."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from app_client import DIM, NAME, SETTINGS, VERSION, app_client, features
from fastapi.testclient import TestClient
from predict_cases import BAD_V1
from redis_server import RedisServer, run_redis

from service.jobs.record import record_key
from service.settings import Settings

QUEUE = "corebound-jobs"
INFER = {"inputs": [{"name": "input-0", "shape": [2, DIM], "datatype": "FP32",
                     "data": [features(), features(1.0)]}]}  # fmt: skip


def job_settings(url: str, **kw: object) -> Settings:
    limits = {"job_max_rows": 32, "job_max_body_bytes": 64 * 1024, "job_max_queued": 3}
    return SETTINGS.model_copy(
        update={
            "jobs_enabled": True,
            "redis_url": Settings(redis_url=url).redis_url,
            **limits,
            **kw,
        }
    )


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with run_redis() as s:
        yield s


@pytest.fixture(scope="module")
def client(server: RedisServer) -> Iterator[TestClient]:
    with app_client(job_settings(server.url)) as c:
        yield c


@pytest.fixture(autouse=True)
def empty(server: RedisServer) -> None:
    server.call("FLUSHALL")


def queued(server: RedisServer) -> int:
    return int(server.call("LLEN", QUEUE))


def test_a_predict_job_is_queued_with_its_record(client: TestClient, server: RedisServer) -> None:
    response = client.post("/v1/jobs", json={"inputs": [features()]})

    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.json() == {"id": job_id, "status": "queued"}
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    assert queued(server) == 1
    message = json.loads(server.call("LINDEX", QUEUE, "0"))
    assert message["headers"]["id"] == job_id and message["headers"]["task"] == "corebound.job"
    job = client.get(response.headers["location"]).json()
    assert (job["status"], job["kind"], job["runs"]) == ("queued", "predict", 0)
    assert "result" not in job and job["submitted_at"].endswith("+00:00")
    assert server.call("TTL", record_key(job_id)) > 0


@pytest.mark.parametrize(
    "path", [f"/v2/models/{NAME}/jobs", f"/v2/models/{NAME}/versions/{VERSION}/jobs"]
)
def test_an_infer_job_is_queued(client: TestClient, server: RedisServer, path: str) -> None:
    response = client.post(path, json=INFER)

    assert response.status_code == 202, response.text
    assert client.get(response.headers["location"]).json()["kind"] == "infer"
    assert queued(server) == 1


def test_rows_over_a_request_but_within_a_job_are_queued(server: RedisServer) -> None:
    body = {"inputs": [features()] * 20}
    with app_client(job_settings(server.url, max_rows_per_request=8, max_queue_rows=8)) as c:
        sync, job = c.post("/v1/predict", json=body), c.post("/v1/jobs", json=body)

    assert (sync.status_code, job.status_code) == (413, 202)
    assert "MAX_ROWS_PER_REQUEST=8" in sync.json()["detail"]


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD_V1)
def test_a_bad_body_is_refused_as_predict_refuses_it_and_never_queued(
    client: TestClient, server: RedisServer, body: bytes, content_type: str, status: int, words: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    job = client.post("/v1/jobs", content=body, headers=headers)
    sync = client.post("/v1/predict", content=body, headers=headers)

    assert (job.status_code, sync.status_code) == (status, status), job.text
    assert words in job.json()["detail"]
    assert queued(server) == 0


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "words"),
    [
        ("/v2/models/nope/jobs", INFER, {}, 404, "unknown model 'nope'"),
        (f"/v2/models/{NAME}/versions/0/jobs", INFER, {}, 404, "unknown version '0'"),
        (f"/v2/models/{NAME}/jobs", {"inputs": []}, {}, 400, "expected exactly one input"),
        (f"/v2/models/{NAME}/jobs", INFER, {"inference-header-content-length": "10"}, 415,
         "jobs take JSON"),
        (f"/v2/models/{NAME}/jobs", {**INFER, "parameters": {"binary_data_output": True}}, {},
         400, "jobs answer JSON"),
    ],
)  # fmt: skip
def test_bad_infer_jobs_are_refused(
    client: TestClient, server: RedisServer, path: str, body: object, headers: dict[str, str],
    status: int, words: str,
) -> None:  # fmt: skip
    response = client.post(path, content=json.dumps(body), headers=headers)

    assert response.status_code == status and words in response.json()["error"]
    assert queued(server) == 0


def test_a_full_queue_is_503_with_retry_after(client: TestClient, server: RedisServer) -> None:
    statuses = [client.post("/v1/jobs", json={"inputs": [features()]}) for _ in range(4)]

    assert [r.status_code for r in statuses] == [202, 202, 202, 503]
    assert statuses[-1].headers["retry-after"] == "5"
    assert "job queue full: 3 jobs queued (JOB_MAX_QUEUED=3)" in statuses[-1].json()["detail"]
    assert queued(server) == 3


@pytest.mark.parametrize("job_id", ["1b4e28ba-2fa1-11d2-883f-0016d3cca427", "not-an-id"])
def test_an_unknown_job_is_404(client: TestClient, job_id: str) -> None:
    response = client.get(f"/v1/jobs/{job_id}")

    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"no job {job_id}: unknown, or finished more than JOB_RESULT_TTL_S=86400 s ago"
    )


def test_unreachable_redis_is_503_never_500(server: RedisServer) -> None:
    with run_redis() as gone:
        url = gone.url
    with app_client(job_settings(url)) as c:
        submitted = c.post("/v1/jobs", json={"inputs": [features()]})
        read = c.get("/v1/jobs/1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    for response in (submitted, read):
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert response.json()["detail"].startswith("job queue unavailable: ")


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [("POST", "/v1/jobs", "detail"), ("POST", f"/v2/models/{NAME}/jobs", "error"),
     ("GET", "/v1/jobs/1b4e28ba-2fa1-11d2-883f-0016d3cca427", "detail")],
)  # fmt: skip
def test_off_every_job_route_is_404_naming_the_switch(method: str, path: str, key: str) -> None:
    with app_client() as c:
        response = c.request(method, path, json={"inputs": [features()]})
        documented = c.get("/openapi.json").json()["paths"]

    assert response.status_code == 404
    assert "JOBS_ENABLED" in response.json()[key] and "jobs.enabled" in response.json()[key]
    assert not [p for p in documented if "jobs" in p]


def test_on_the_job_routes_are_documented(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    paths = {p for p in schema["paths"] if "jobs" in p}
    assert paths == {"/v1/jobs", "/v1/jobs/{job_id}", "/v2/models/{model_name}/jobs",
                     "/v2/models/{model_name}/versions/{model_version}/jobs"}  # fmt: skip
    submit = schema["paths"]["/v1/jobs"]["post"]
    assert {"202", "413", "422", "503"} <= set(submit["responses"])
    body = schema["components"]["schemas"]["JobPredictRequest"]
    assert body["properties"]["inputs"]["maxItems"] == 32  # JOB_MAX_ROWS


def test_job_bodies_have_their_own_gate_one_per_worker(client: TestClient) -> None:
    jobs, sync = client.app.state.jobs.policy, client.app.state.body_policy  # type: ignore[attr-defined]

    assert (jobs.slots, jobs.wait_s, jobs.max_rows) == (1, SETTINGS.request_timeout_s, 32)
    assert jobs.gate is not sync.gate and jobs.max_bytes == 64 * 1024
    assert (jobs.bytes_setting, jobs.rows_setting) == ("JOB_MAX_BODY_BYTES", "JOB_MAX_ROWS")
