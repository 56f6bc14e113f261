"""The benchmark's arithmetic and report on hand-made rows (no server, no wrk)."""

from __future__ import annotations

import math

from bench_rows import row

from scripts.bench.load import percentile
from scripts.bench.report import pick_median


def test_percentile_takes_the_nearest_rank_and_nan_when_empty() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0], 99) == 2.0
    assert math.isnan(percentile([], 50))


def test_pick_median_keeps_every_round() -> None:
    cells = [row("corebound", 8, r) for r in (300, 100, 200, 400)]
    chosen = pick_median(cells)
    assert chosen.rps == 300 and chosen.rps_rounds == [300, 100, 200, 400]
