"""service/jobs/execute.py in process: a job answers exactly what the sync route answers for
the same body (same decoder, same encoder), and a job that cannot run fails naming why."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from app_client import DIM, NAME, SETTINGS, VERSION, app_client, features
from fastapi.testclient import TestClient

from service.inference.loaded import LoadedModel
from service.jobs import execute
from service.jobs.record import JobFailed
from service.sizing.planning import plan_for

ROWS = [features(float(i % 17)) for i in range(40)]  # more than SETTINGS' 32 rows a request
INFER = {
    "id": "req-1",
    "inputs": [{"name": "input-0", "shape": [3, DIM], "datatype": "FP32", "data": ROWS[:3]}],
}


@pytest.fixture(scope="module")
def model() -> Iterator[LoadedModel]:
    yield execute.load(SETTINGS, plan_for(SETTINGS))
    execute.Loaded.model = None


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with app_client() as c:
        yield c


def run(kind: str, body: object, version: str | None = None, max_rows: int = 64) -> object:
    return execute.run(kind, json.dumps(body), NAME, version, "job-1", max_rows)


def test_a_predict_job_answers_as_v1_predict(model: LoadedModel, client: TestClient) -> None:
    sync = client.post("/v1/predict", json={"inputs": ROWS[:32]}).json()

    assert run("predict", {"inputs": ROWS[:32]}) == sync
    # More rows than a request may carry, the same rows' answers.
    assert run("predict", {"inputs": ROWS})["outputs"][:32] == sync["outputs"]  # type: ignore[index]


def test_an_infer_job_answers_as_v2_infer(model: LoadedModel, client: TestClient) -> None:
    sync = client.post(f"/v2/models/{NAME}/versions/{VERSION}/infer", json=INFER).json()

    assert run("infer", INFER, VERSION) == sync


def test_an_infer_job_without_an_id_answers_with_the_jobs(model: LoadedModel) -> None:
    answer = run("infer", {"inputs": INFER["inputs"]})

    assert answer["id"] == "job-1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "body", "version", "words"),
    [
        ("predict", {"inputs": ROWS}, None, "refused (422): 'inputs' has 40 rows; at most 8"
         " per request (JOB_MAX_ROWS)"),
        ("infer", INFER, "v0", "refused (404): unknown version 'v0'"),
        ("train", INFER, None, "unknown job kind 'train'"),
    ],
)  # fmt: skip
def test_a_job_that_cannot_run_fails_naming_why(
    model: LoadedModel, kind: str, body: object, version: str | None, words: str
) -> None:
    with pytest.raises(JobFailed) as failed:
        run(kind, body, version, max_rows=8)

    assert words in str(failed.value)


def test_a_model_error_fails_the_job(model: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(batch: object) -> object:
        raise ValueError("weights gone")

    monkeypatch.setattr(model.predictor, "predict", broken)

    with pytest.raises(JobFailed, match="model failed: ValueError: weights gone"):
        run("predict", {"inputs": ROWS[:2]})


def test_no_model_loaded_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute.Loaded, "model", None)

    with pytest.raises(JobFailed, match="no model loaded"):
        run("predict", {"inputs": ROWS[:2]})
