"""Prometheus metrics, correct across gunicorn workers.

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn_conf does it before workers import this),
every worker writes its values to files there and `/metrics` (prometheus-fastapi-
instrumentator's exposition) merges them, so any worker answering a scrape reports the whole
pod. Without it (tests, one process) the default registry serves.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator import metrics as instrumentator


def _created(
    metric: Callable[[instrumentator.Info], None] | None,
) -> Callable[[instrumentator.Info], None]:
    # None means the metric already existed: this module is imported once per process.
    assert metric is not None, "request metrics created twice"
    return metric


# The request metrics are prometheus-fastapi-instrumentator's (its names, labels `handler`,
# `method`, `status`), fed by service/web/pipeline.py's RequestMetrics for every route.
HTTP_REQUESTS = _created(instrumentator.requests())
HTTP_SECONDS = _created(
    instrumentator.latency(buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
)
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
INLINE = Counter(
    "corebound_inline_requests_total",
    "Requests that found their worker idle and ran on its event loop (INLINE_MAX_MS).",
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
