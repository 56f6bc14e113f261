"""The composition root in process: the lifespan (load, warm up, ready, stop), the body
policy it derives, the in-flight count the inline path asks, /metrics and the OpenAPI
document. Each route's answers are in tests/service/web/test_routes_*.py."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from app_client import DIM, app_client, features, runtime
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from service.app import body_policy, requests_alone
from service.inference.loaded import LoadedModel, rows_model
from service.settings import Settings
from service.sizing.formula import largest_body_bytes, plan
from service.web.runtime import Runtime


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with app_client() as c:
        yield c


def batches() -> float:
    return REGISTRY.get_sample_value("corebound_batch_rows_count") or 0.0


def test_the_lifespan_warms_the_model_up_before_ready_and_stops_the_thread_after() -> None:
    before = batches()
    with app_client() as c:
        rt = runtime(c)
        model, engine = rt.serving
        assert rt.ready and engine.healthy(5) and model.input_dim == DIM
        assert batches() == before + 1  # one warm-up row through the engine
    assert not rt.ready and not engine.healthy(5)  # the inference thread has ended


def test_what_the_lifespan_loaded_is_kept_out_of_the_collectors_scans() -> None:
    gc.unfreeze()
    with app_client():
        assert gc.get_freeze_count() > 0  # gc.freeze(): full collections skip the app


def test_metrics_count_batches(client: TestClient) -> None:
    client.post("/v1/predict", json={"inputs": [features()]})
    text = client.get("/metrics").text
    assert "corebound_batch_rows_count" in text and 'handler="/v1/predict"' in text


def test_openapi_describes_the_model_width(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    predict = schema["components"]["schemas"]["PredictRequest"]
    assert predict["properties"]["inputs"]["items"]["minItems"] == DIM
    assert "/v2/models/{model_name}/infer" in schema["paths"]


def model(input_dim: int) -> LoadedModel:
    return rows_model(SimpleNamespace(), "m", "1", input_dim)


def test_the_body_limit_is_the_largest_valid_request_for_the_models_width() -> None:
    settings = Settings(max_rows_per_request=10, parse_concurrency=3, request_timeout_s=7)
    rt = Runtime(settings=settings, plan=plan(2, 1.0, max_body_bytes=10**9))

    policy = body_policy(rt, model(8))

    assert (policy.max_bytes, policy.max_rows, policy.max_values) == (
        largest_body_bytes(10, 8), 10, 80,
    )  # fmt: skip
    assert (policy.slots, policy.wait_s) == (3, 7)


def test_the_body_limit_never_exceeds_the_memory_plans_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = Runtime(settings=Settings(max_body_bytes=8192), plan=plan(2, 1.0, max_body_bytes=4096))

    with caplog.at_level(logging.WARNING, logger="corebound"):
        policy = body_policy(rt, model(DIM))

    assert policy.max_bytes == 4096
    assert "set MAX_BODY_BYTES to plan for it" in caplog.text


@pytest.mark.parametrize(("in_flight", "alone"), [(None, False), (1, True), (2, False)])
def test_a_request_is_alone_only_when_it_is_the_one_request_inside(
    in_flight: int | None, alone: bool
) -> None:
    state: Any = SimpleNamespace()
    if in_flight is not None:  # the pipeline is built on the first request
        state.hot_routes = SimpleNamespace(in_flight=in_flight)

    assert requests_alone(SimpleNamespace(state=state)) is alone  # type: ignore[arg-type]
