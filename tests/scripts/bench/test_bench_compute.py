"""The compute limit covers both runtimes, both thread counts and every batch size."""

from __future__ import annotations

from scripts.bench.load import BATCHES, RUNTIMES, compute_limit


def test_compute_limit_measures_every_runtime_thread_and_batch() -> None:
    cells = compute_limit(seconds=0.01)

    keys = [(c["runtime"], c["blas_threads"], c["batch"]) for c in cells]
    assert keys == [(r, t, b) for r in RUNTIMES for t in (1, 2) for b in BATCHES]
    for c in cells:
        assert c["rows_per_s"] > 0
        assert abs(c["rows_per_s"] * c["ms_per_call"] / 1000 - c["batch"]) < 1e-6 * c["batch"]
