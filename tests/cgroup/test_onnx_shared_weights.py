"""Two forked workers on a ~100 MiB model.onnx hold one copy of its weights, shared or packed,
and start inside a memory cgroup limited to about that: one copy, a little per worker and the
largest weight per worker while loading. ONNX Runtime's default session on the same file (a
private copy per worker) is the control. Margins of tens of MiB: correctness bounds, not a
measurement (that is `python -m scripts.bench onnx-memory`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime  # noqa: F401  (before the forks: the workers' base, as in the bench)
import pytest

from scripts.bench.onnx_models import INPUT_DIM
from scripts.bench.onnx_procs import in_cgroup, session_work
from scripts.bench.onnx_runs import largest_weight_mib, source_model
from service.inference.onnx_session import prepare_shared

WORKERS = 2
PER_WORKER_MIB = 16  # measured 4-5 MiB resident per session (reports/onnx_memory.json)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    return source_model(tmp_path_factory.mktemp("onnx") / "model", 100)


def limit_mib(model_mib: float) -> int:
    return round(model_mib + WORKERS * (PER_WORKER_MIB + largest_weight_mib(100)) + 16)


def workers(route: str, model: Path, packed: bool) -> list[Callable[[], dict[str, Any]]]:
    return [session_work(route, model, 1, packed, INPUT_DIM) for _ in range(WORKERS)]


@pytest.mark.parametrize("packed", [False, True])
def test_two_workers_hold_one_copy_of_the_weights(
    model: tuple[Path, float], tmp_path: Path, packed: bool
) -> None:
    source, model_mib = model
    prepared = prepare_shared(source, tmp_path / "cache", packed)

    memory = in_cgroup(workers("prepared", prepared, packed), [source, tmp_path])["cgroup"]

    assert memory["mapped_file_mib"] > 0.9 * model_mib, memory  # the copy is the mapped file
    assert memory["anon_mib"] < WORKERS * PER_WORKER_MIB, memory  # and no worker's heap


@pytest.mark.parametrize("packed", [False, True])
def test_they_start_under_a_limit_of_one_copy_and_a_little_per_worker(
    model: tuple[Path, float], tmp_path: Path, packed: bool
) -> None:
    source, model_mib = model
    prepared = prepare_shared(source, tmp_path / "cache", packed)

    # Raises if a worker is killed: packed reads the plain weights while loading, page
    # cache the kernel drops under the limit instead.
    in_cgroup(workers("prepared", prepared, packed), [source, tmp_path], limit_mib(model_mib))


def test_the_default_session_holds_a_copy_per_worker(model: tuple[Path, float]) -> None:
    source, model_mib = model

    memory = in_cgroup(workers("inline", source, False), [source])["cgroup"]

    assert memory["anon_mib"] > WORKERS * 0.9 * model_mib, memory
