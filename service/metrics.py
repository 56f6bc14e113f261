"""Prometheus metrics, correct across gunicorn workers.

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn_conf does it before workers import this),
every worker writes its values to files there and `/metrics` merges them, so any worker
answering a scrape reports the whole pod. Without it (tests, one process) the default
registry serves.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

BATCH_ROWS = Histogram(
    "corebound_batch_rows",
    "Rows per model call (micro-batch size).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
INFERENCE_SECONDS = Histogram(
    "corebound_inference_seconds",
    "Model time per micro-batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_WAIT = Histogram(
    "corebound_queue_wait_seconds",
    "Time a request waited for the inference thread.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
QUEUE_ROWS = Gauge(
    "corebound_queue_rows", "Rows waiting for the inference thread.", multiprocess_mode="livesum"
)
SHED = Counter(
    "corebound_shed_requests_total",
    "Requests refused (queue_full) or expired (deadline).",
    ["reason"],
)
CLIENT_GONE = Counter(
    "corebound_client_disconnects_total",
    "Requests whose client hung up before its body was read (answered 499, not an error).",
)

QUIET_PATHS = ["/metrics", "/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"]


def instrument(app: FastAPI) -> None:
    # Two metrics, not the library's five: each is a multiprocess file write per request,
    # measured at 5-10 % of throughput (reports/benchmark.md) for sizes nobody asked for.
    instrumentator = Instrumentator(excluded_handlers=QUIET_PATHS)
    instrumentator.add(
        http_metrics.requests(),
        http_metrics.latency(buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)),
    )
    instrumentator.instrument(app)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
