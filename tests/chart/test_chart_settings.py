"""Every value set the chart renders starts the service: the rendered environment passes
service/settings.py's own rules (review #1: maxQueueRows 100 put every pod in CrashLoopBackOff)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chart_tools as ct
import pytest

from service.settings import Settings

EDGES: list[dict[str, Any]] = [
    {"batching": {"maxQueueRows": 100}},
    {"batching": {"maxQueueRows": 1}},
    {"batching": {"maxQueueRows": 1_000_000, "maxRowsPerRequest": 100_000}},
    {"batching": {"maxQueueRows": 300, "maxRowsPerRequest": 300}},
    {"batching": {"maxBatchSize": 4096, "maxWaitMs": 1000, "requestTimeoutS": 600}},
    {"concurrency": {"workers": 256, "threads": 256}},
    {"concurrency": {"mode": "latency"}, "resources": {"cpu": "500m"}},
    {"shutdown": {"gracefulTimeoutSeconds": 1}},
]


def settings_of(env: dict[str, str]) -> Settings:
    """service/settings.py's validation of this environment (its rules, without os.environ)."""
    return Settings.model_validate({k.lower(): v for k, v in env.items() if k.lower() in FIELDS})


# What the jobs ci values' Secrets would hold: the chart's Redis password, an external URL.
SECRETS = {
    (f"{ct.RELEASE}-redis", "password"): "s3cret",
    ("redis-url", "REDIS_URL"): "redis://:s3cret@redis.example:6379/0",
}


def service_env(values: dict[str, Any]) -> dict[str, str]:
    docs = ct.render(values)
    env = ct.container_env(docs, ct.server_container(docs), SECRETS)
    env.pop("MODEL_DIR", None)  # a path in the pod (an init container's volume), not here
    return env


@pytest.mark.parametrize("values_path", ct.CI_VALUES, ids=lambda p: p.name)
def test_every_ci_value_set_passes_the_service_settings(values_path: Path) -> None:
    env = service_env(ct.values_file(values_path))

    settings_of(env)


@pytest.mark.parametrize("values", EDGES, ids=lambda v: str(v))
def test_schema_edges_pass_the_service_settings(values: dict[str, Any]) -> None:
    env = service_env(values)

    settings = settings_of(env)
    assert settings.max_rows_per_request <= settings.max_queue_rows


def test_rows_per_request_follows_a_small_queue() -> None:
    env = service_env(ct.values_file(ct.CHART_DIR / "ci" / "small-queue-values.yaml"))

    assert (env["MAX_QUEUE_ROWS"], env["MAX_ROWS_PER_REQUEST"]) == ("100", "100")


FIELDS = set(Settings.model_fields)
