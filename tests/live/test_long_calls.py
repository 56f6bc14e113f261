"""A model call of several seconds under the real gunicorn: liveness calls the inference thread
busy while the call is younger than MAX_CALL_S and hung after, whatever HEARTBEAT_TIMEOUT_S
(the idle thread's limit) says; the call itself completes within REQUEST_TIMEOUT_S."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from serving import Service, run_service

ENV = {
    "MODEL_CLASS": "tests.long_call_model:load",
    "WEB_CONCURRENCY": "1",
    "HEARTBEAT_TIMEOUT_S": "1",
    "MAX_CALL_S": "4",
    "REQUEST_TIMEOUT_S": "30",
}


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with run_service(ENV) as svc:
        yield svc


def call_and_watch(service: Service, seconds: float) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """One call of `seconds`, and every /healthz answer seen while it ran."""
    answer: list[httpx.Response] = []
    call = threading.Thread(
        target=lambda: answer.append(
            httpx.post(service.url + "/v1/predict", json={"inputs": [[seconds]]}, timeout=60)
        )
    )
    call.start()
    seen = []
    while call.is_alive():
        probe = httpx.get(service.url + "/healthz", timeout=5)
        seen.append({"code": probe.status_code, **probe.json()})
        time.sleep(0.2)
    call.join()
    return answer[0], seen


def test_a_call_longer_than_the_heartbeat_limit_is_busy_not_hung(service: Service) -> None:
    response, seen = call_and_watch(service, 2.5)

    assert response.status_code == 200 and response.json()["outputs"] == [[2.5]]
    in_call = [s for s in seen if s["call_age_s"] is not None]
    assert max(s["call_age_s"] for s in in_call) > 1.5  # past HEARTBEAT_TIMEOUT_S=1
    assert all(s["code"] == 200 and s["status"] == "ok" for s in seen), seen


def test_a_call_past_max_call_s_is_reported_hung_and_still_answers(service: Service) -> None:
    response, seen = call_and_watch(service, 6)

    assert response.status_code == 200
    hung = [s for s in seen if s["code"] == 503]
    assert hung and all(s["status"] == "stalled" and s["call_age_s"] >= 4 for s in hung)
    assert all(s["code"] == 200 for s in seen if (s["call_age_s"] or 0) < 3.8)
    assert httpx.get(service.url + "/healthz").status_code == 200  # the call ended
