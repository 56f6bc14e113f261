"""The benchmark's corebound variants start as many workers as the service will."""

from __future__ import annotations

import pytest

from scripts.bench.patterns import corebound_variant


@pytest.mark.parametrize(
    ("spec", "workers"),
    [
        ("MAX_WAIT_MS=1", 2),
        ("MODEL_RUNTIME=numpy", 2),
        ("CONCURRENCY_MODE=latency", 1),  # one worker with every core as threads
        ("CONCURRENCY_MODE=latency,WEB_CONCURRENCY=2", 2),
        ("WEB_CONCURRENCY=3", 3),
    ],
)
def test_variant_waits_for_the_workers_the_service_starts(spec: str, workers: int) -> None:
    pattern = corebound_variant(spec, cores=2)
    assert pattern.workers == workers
    assert pattern.app is None and pattern.env == dict(i.split("=") for i in spec.split(","))
