"""bench onnx-serving without load: the bodies it sends, the batch counters it reads, the
batches it runs in-process and the ratio it reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_rows import row
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from scripts.bench.onnx_serving import (
    batch_counters,
    batch_sizes,
    build,
    infer_body,
    round_result,
    summarize,
    table,
)
from service.inference.model import load_model
from service.protocol import oip_tensors
from service.protocol import rows as codec


def test_a_body_carries_one_row_of_every_input_and_the_service_decodes_it(
    tmp_path: Path,
) -> None:
    feeds = build("two-inputs", tmp_path / "two-inputs")
    model = load_model(tmp_path / "two-inputs", None, cache_dir=tmp_path / "cache")

    decoded = oip_tensors.decode(
        codec.parse_json(infer_body(feeds, 3)), memoryview(b""), False, model, 1, False
    )

    assert [spec.name for spec in model.inputs] == ["measurements", "codes"]
    for got, want in zip(decoded.rows, feeds.values(), strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want[3:4])
    assert len(model.predictor.predict(decoded.rows)[0]) == 1


@pytest.mark.parametrize("mean", [1.0, 3.25, 7.9, 12.0])
def test_in_process_batches_average_the_mean_from_its_two_neighbours(mean: float) -> None:
    sizes = batch_sizes(mean)

    assert np.mean(sizes) == pytest.approx(mean, abs=0.01)
    assert set(sizes) <= {int(mean), int(mean) + 1}


def test_batch_counters_read_rows_calls_and_model_seconds_from_the_exposition() -> None:
    registry = CollectorRegistry()
    rows = Histogram("corebound_batch_rows", "", registry=registry, buckets=(1, 8))
    seconds = Histogram("corebound_inference_seconds", "", registry=registry)
    for n in (1, 4, 7):
        rows.observe(n)
        seconds.observe(0.002)

    found = batch_counters(generate_latest(registry).decode())

    assert found == pytest.approx({"rows": 12.0, "calls": 3.0, "model_s": 0.006})


def test_the_ratio_is_served_over_in_process_and_the_median_of_the_rounds() -> None:
    cells = [
        row(
            "m", 32, rps, server_cores=1.5, batch_rows={"rows": 8 * rps, "calls": rps, "model_s": 1}
        )
        for rps in (2000.0, 3000.0, 2500.0)
    ]
    inproc = {"rows_per_s": 100_000.0, "ms_per_call": 0.05, "cores": 2.0}

    rounds = [round_result(cell, inproc, 8) for cell in cells]
    summary = summarize("m", {"weights": "packed"}, rounds)

    assert rounds[0]["ratio"] == pytest.approx(0.02)
    assert rounds[0]["mean_batch_rows"] == 8.0
    # CPU per row: 2 cores / 100k rows/s = 20 us in-process; 1.5 / 2000 = 750 us served.
    assert rounds[0]["cpu_ratio"] == pytest.approx(20 / 750)
    assert summary["served_rps"] == 2500.0 and summary["ratio"] == pytest.approx(0.025)
    assert len(summary["rounds"]) == 3
    header, line = table([summary])
    assert line.split()[:3] == ["m", "packed", "8.00"] and "ratio" in header
