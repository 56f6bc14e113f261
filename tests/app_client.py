"""The app in process (the fast lane): a TestClient that ran the lifespan, and what it holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from paths import DEFAULT_MODEL

from service.app import create_app
from service.settings import Settings
from service.web.runtime import Runtime

_MODEL_JSON = json.loads((DEFAULT_MODEL / "model.json").read_text())
NAME, VERSION = str(_MODEL_JSON["name"]), str(_MODEL_JSON["version"])
DIM = int(_MODEL_JSON["input_dim"])
# Small limits, so the tests can reach them: 32 rows, a 64 KiB body.
SETTINGS = Settings(max_rows_per_request=32, max_queue_rows=64, max_body_bytes=64 * 1024)


@contextmanager
def app_client(settings: Settings = SETTINGS, **kw: Any) -> Iterator[TestClient]:
    """The default model loaded, the engine started and warmed up: ready, as a worker is."""
    with TestClient(create_app(settings), **kw) as client:
        yield client


def runtime(client: TestClient) -> Runtime:
    app = client.app
    assert isinstance(app, FastAPI)
    rt: Runtime = app.state.runtime
    return rt


def features(value: float = 3.0) -> list[float]:
    """One row for the default model."""
    return [value] * DIM
