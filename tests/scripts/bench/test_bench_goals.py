"""Issue 12's goals, the machine's limit and the batch histogram, on hand-made rows."""

from __future__ import annotations

from typing import Any

import pytest
from bench_rows import row

from scripts.bench.goals import batch_histogram, bucket_delta, goals, machine_limit
from scripts.bench.load import Row


def by_goal(rows: list[Row]) -> dict[str, dict[str, Any]]:
    return {g["target"].split(":")[0]: g for g in goals(rows)}


def test_throughput_goal_is_three_times_the_best_peer_at_32_and_64() -> None:
    rows = [
        row("corebound", 32, 1800), row("loop", 32, 600), row("threadpool", 32, 500),
        row("control", 32, 9000), row("corebound", 64, 1700), row("loop", 64, 600),
    ]  # fmt: skip
    found = by_goal(rows)
    assert found["c=32"]["reached"] and "loop" in found["c=32"]["value"]  # control is no peer
    assert not found["c=64"]["reached"] and "2.83x" in found["c=64"]["value"]


def test_c1_latency_is_compared_with_the_fastest_peer() -> None:
    rows = [
        row("corebound", 1, 500, p50_ms=1.0), row("loop", 1, 600, p50_ms=0.9),
        row("threadpool", 1, 400, p50_ms=1.5),
    ]  # fmt: skip
    assert not by_goal(rows)["c=1"]["reached"]


def test_healthz_goal_needs_every_concurrency_and_no_failed_probe() -> None:
    rows = [
        row("corebound", 1, 500, healthz_p99_ms=2.0), row("loop", 1, 600, healthz_p99_ms=3.0),
        row("corebound", 32, 900, healthz_p99_ms=9.0), row("loop", 32, 300, healthz_p99_ms=8.0),
    ]  # fmt: skip
    healthz = by_goal(rows)["/healthz p99 at or below every other pattern's, at every c"]
    assert not healthz["reached"] and "c=32" in healthz["value"]
    failed = [row("corebound", 1, 500, healthz_failures=1), row("loop", 1, 600)]
    assert not by_goal(failed)["/healthz p99 at or below every other pattern's, at every c"][
        "reached"
    ]


def test_binary_goal_compares_the_two_oip_forms() -> None:
    rows = [row("corebound-oip-binary", 32, 1600), row("corebound-oip-json", 32, 1000)]
    assert by_goal(rows)["c=32"]["reached"]


def test_machine_limit_is_the_harmonic_sum_of_the_floor_and_the_model() -> None:
    compute = [{"blas_threads": 1, "batch": 32, "rows_per_s": 500.0, "ms_per_call": 64.0}]
    rows = [row("corebound-floor", 32, 1000), row("corebound", 32, 250)]
    limit = machine_limit(rows, compute, cores=2, concurrency=32)
    assert limit["model_rows_per_s"] == 1000 and limit["limit_rps"] == 500
    assert limit["fraction"] == pytest.approx(0.5)
    assert machine_limit(rows[:1], compute, cores=2, concurrency=32) == {}


def test_machine_limit_takes_the_served_runtime_batch_32_cell() -> None:
    compute = [
        {"runtime": "numpy", "blas_threads": 1, "batch": 32, "rows_per_s": 1.0, "ms_per_call": 1},
        {"runtime": "onnxruntime", "blas_threads": 1, "batch": 32, "rows_per_s": 500.0,
         "ms_per_call": 64.0},
    ]  # fmt: skip
    rows = [row("corebound-floor", 32, 1000), row("corebound", 32, 250)]
    assert machine_limit(rows, compute, cores=2, concurrency=32)["model_rows_per_s"] == 1000


def test_batch_histogram_is_per_bucket_and_stops_at_64() -> None:
    before = {"1.0": 5.0, "2.0": 5.0, "4.0": 6.0, "64.0": 6.0, "128.0": 6.0, "+Inf": 6.0}
    after = {"1.0": 7.0, "2.0": 10.0, "4.0": 20.0, "64.0": 21.0, "128.0": 21.0, "+Inf": 21.0}
    cell = row("corebound", 32, 100, batch_rows=bucket_delta(after, before))
    assert batch_histogram(cell) == [("1", 2.0), ("2", 3.0), ("4", 9.0), ("64", 1.0)]
