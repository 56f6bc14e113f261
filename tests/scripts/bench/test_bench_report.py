"""The benchmark's arithmetic and report on hand-made rows (no server, no wrk)."""

from __future__ import annotations

import math
from typing import Any

from scripts.bench.load import Row, percentile
from scripts.bench.report import model_bound, pick_median, targets


def row(pattern: str, concurrency: int, rps: float, **kw: Any) -> Row:
    fields: dict[str, Any] = {
        "label": pattern, "p50_ms": 1.0, "p99_ms": 5.0, "max_ms": 9.0, "requests": 100,
        "non_2xx": 0, "socket_errors": 0, "healthz_p50_ms": 1.0, "healthz_p99_ms": 3.0,
        "healthz_failures": 0, "healthz_probes": 50, "server_cores": 1.0,
        "client_cores": 0.5, "load_average": 1.0,
    }  # fmt: skip
    return Row(pattern=pattern, concurrency=concurrency, rps=rps, **{**fields, **kw})


def test_percentile_takes_the_nearest_rank_and_nan_when_empty() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0], 99) == 2.0
    assert math.isnan(percentile([], 50))


def test_targets_compare_with_the_best_other_pattern_and_the_ceiling() -> None:
    rows = [
        row("corebound", 32, 900), row("threadpool", 32, 500), row("loop", 32, 600),
        row("control", 32, 1000), row("corebound", 1, 100, p50_ms=2.0),
        row("threadpool", 1, 90, p50_ms=2.5),
    ]  # fmt: skip
    by_target = {t["target"].split(":")[0]: t for t in targets(rows)}
    best = next(t for t in targets(rows) if "best other" in t["target"])
    assert best["ratio"] == 1.5 and best["reached"] and "loop" in best["value"]
    ceiling = next(t for t in targets(rows) if "ceiling" in t["target"])
    assert ceiling["ratio"] == 0.9 and ceiling["reached"]
    assert by_target["c=1"]["reached"]  # 2.0 ms against 2.5 ms


def test_healthz_target_misses_on_a_failed_probe() -> None:
    rows = [row("corebound", 32, 900, healthz_failures=1)]
    healthz = next(t for t in targets(rows) if "/healthz" in t["target"])
    assert not healthz["reached"]


def test_model_bound_is_the_harmonic_sum_of_http_and_model_cost() -> None:
    compute = [{"blas_threads": 1, "batch": 32, "rows_per_s": 500.0, "ms_per_call": 64.0}]
    bound = model_bound([row("control", 32, 1000)], compute, cores=2)
    assert bound["model_rows_per_s"] == 1000 and bound["bound_rps"] == 500
    assert model_bound([], compute, cores=2) == {}


def test_pick_median_keeps_every_round() -> None:
    cells = [row("corebound", 8, r) for r in (300, 100, 200, 400)]
    chosen = pick_median(cells)
    assert chosen.rps == 300 and chosen.rps_rounds == [300, 100, 200, 400]
