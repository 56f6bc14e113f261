"""The benchmark's arithmetic and report on hand-made rows (no server, no wrk)."""

from __future__ import annotations

import math
from typing import Any

from scripts.bench.load import Row, percentile
from scripts.bench.report import pick_median


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


def test_pick_median_keeps_every_round() -> None:
    cells = [row("corebound", 8, r) for r in (300, 100, 200, 400)]
    chosen = pick_median(cells)
    assert chosen.rps == 300 and chosen.rps_rounds == [300, 100, 200, 400]
