"""service/web/routes/ops.py in process: liveness, readiness and /info, answered as the
state of the worker says (the inference thread, the warm-up, the plan)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict

import pytest
from app_client import DIM, NAME, SETTINGS, VERSION, app_client, runtime
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with app_client() as c:
        yield c


def test_healthz_is_ok_with_the_heartbeats_age_while_the_thread_runs(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert 0 <= body["heartbeat_age_s"] < SETTINGS.heartbeat_timeout_s


def test_healthz_is_503_stalled_once_the_inference_thread_is_gone() -> None:
    with app_client() as c:
        _, engine = runtime(c).serving
        engine.stop()

        response = c.get("/healthz")

    assert response.status_code == 503 and response.json()["status"] == "stalled"


def test_readyz_is_200_once_the_model_is_warmed_up(client: TestClient) -> None:
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_readyz_is_503_while_the_worker_is_not_ready(client: TestClient) -> None:
    rt = runtime(client)
    rt.ready = False  # as during the lifespan's start-up and shutdown
    try:
        response = client.get("/readyz")
    finally:
        rt.ready = True

    assert (response.status_code, response.json()) == (503, {"ready": False})


def test_info_reports_the_model_the_plan_and_the_batching(client: TestClient) -> None:
    rt = runtime(client)
    model, engine = rt.serving

    info = client.get("/info").json()

    assert info["model"] == {
        "name": NAME, "version": VERSION, "bytes": model.bytes,
        "input_dim": DIM, "labels": [str(i) for i in range(10)],
        "platform": model.platform, "weights": "packed" if model.packed else "shared",
        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, DIM]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }  # fmt: skip
    assert info["plan"] == asdict(rt.plan)
    assert info["blas_threads"] == engine.blas_threads
    assert info["batching"] == {
        "max_batch_size": SETTINGS.max_batch_size, "max_wait_ms": SETTINGS.max_wait_ms,
        "max_queue_rows": 64, "max_rows_per_request": 32,
        "request_timeout_s": SETTINGS.request_timeout_s, "max_call_s": SETTINGS.max_call_s,
    }  # fmt: skip
    assert info["pid"] == os.getpid()
