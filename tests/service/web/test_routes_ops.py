"""service/web/routes/ops.py in process: liveness, readiness and /info, answered as the
state of the worker says (the inference thread, the warm-up, the plan), and with a health
board (service/inference/health_board.py) as the state of every worker of the pod says."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from app_client import DIM, NAME, SETTINGS, VERSION, app_client, runtime
from fastapi.testclient import TestClient

from service.inference.health_board import HEALTH_BOARD_ENV, process_start


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

    body = response.json()
    assert response.status_code == 503 and body["status"] == "stalled"
    assert body["stalled"] == [{"pid": os.getpid(), "reason": "inference thread dead"}]


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


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A health board, as gunicorn's master names one to its workers."""
    monkeypatch.setenv(HEALTH_BOARD_ENV, str(tmp_path))
    return tmp_path


def sibling(board: Path, *, call_age_s: float | None = None, report_age_s: float = 0.5) -> int:
    """A report of another worker (this test's parent process, really running); its pid."""
    pid, now = os.getppid(), time.monotonic()
    at = now - report_age_s
    report = {"pid": pid, "at": at, "thread_alive": True, "heartbeat": at - 0.2,
              "call_started": None if call_age_s is None else at - call_age_s,
              "start": process_start(pid)}  # fmt: skip
    (board / f"{pid}.json").write_text(json.dumps(report))
    return pid


def test_a_ready_worker_reports_to_the_board_until_it_shuts_down(board: Path) -> None:
    own = board / f"{os.getpid()}.json"
    with app_client() as c:
        deadline = time.monotonic() + 10
        while not own.exists() and time.monotonic() < deadline:
            c.get("/readyz")  # turns the app's event loop, where the reports are written
            time.sleep(0.05)
        report = json.loads(own.read_text())
    assert report["pid"] == os.getpid() and report["thread_alive"] is True
    assert not own.exists()  # withdrawn before the engine stopped


def test_healthz_and_readyz_are_200_while_every_worker_is_alive(board: Path) -> None:
    pid = sibling(board, call_age_s=SETTINGS.max_call_s - 1)  # busy, not hung
    with app_client() as c:
        health, ready = c.get("/healthz"), c.get("/readyz")

    assert health.status_code == 200
    assert health.json() | {"heartbeat_age_s": 0} == {
        "status": "ok", "pid": os.getpid(), "heartbeat_age_s": 0, "call_age_s": None,
        "workers": [os.getpid(), pid], "stalled": [],
    }  # fmt: skip
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


def test_healthz_and_readyz_are_503_naming_a_hung_sibling(board: Path) -> None:
    pid = sibling(board, call_age_s=SETTINGS.max_call_s + 2)
    with app_client() as c:
        health, ready = c.get("/healthz"), c.get("/readyz")
        # The Open Inference Protocol's own probes say the same as the chart's.
        oip = c.get("/v2/health/live").status_code, c.get("/v2/health/ready").status_code

    assert health.status_code == 503 and ready.status_code == 503 and oip == (503, 503)
    body = health.json()
    assert (body["status"], body["workers"], body["call_age_s"]) == (
        "stalled",
        [os.getpid(), pid],
        None,
    )
    (stalled,) = body["stalled"]
    assert stalled["pid"] == pid
    assert stalled["reason"].startswith("one model call running for 3")
    assert stalled["reason"].endswith(f"(MAX_CALL_S={SETTINGS.max_call_s:g})")
    assert ready.json() == {"ready": False, "stalled": [stalled]}


def test_healthz_is_503_when_a_siblings_reports_stopped(board: Path) -> None:
    pid = sibling(board, report_age_s=SETTINGS.heartbeat_timeout_s + 1)
    with app_client() as c:
        response = c.get("/healthz")

    assert response.status_code == 503
    assert [s["pid"] for s in response.json()["stalled"]] == [pid]
    assert "its event loop is stuck" in response.json()["stalled"][0]["reason"]


def test_without_a_board_healthz_judges_the_worker_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HEALTH_BOARD_ENV, raising=False)  # one process: no gunicorn master
    with app_client() as c:
        body = c.get("/healthz").json()

    assert (body["status"], body["workers"], body["stalled"]) == ("ok", [os.getpid()], [])


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
