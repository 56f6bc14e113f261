"""Sizing: the plan formula, fitting it to memory, CPU quantities, weight sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.sizing import formula as resources
from service.sizing.formula import fit_to_memory, parse_cpu_quantity, plan


@pytest.mark.parametrize(
    ("cpu", "workers", "threads"),
    [(0.5, 1, 1), (1, 1, 1), (1.5, 1, 1), (2, 2, 1), (2.9, 2, 1), (4, 4, 1), (16, 16, 1)],
)
def test_throughput_mode_one_worker_per_whole_core(cpu: float, workers: int, threads: int) -> None:
    p = plan(cpu, 100)
    assert (p.workers, p.threads) == (workers, threads)


def test_latency_mode_one_worker_all_threads() -> None:
    p = plan(4, 100, mode="latency")
    assert (p.workers, p.threads) == (1, 4)


def test_web_concurrency_wins_and_threads_follow() -> None:
    p = plan(4, 100, web_concurrency=2)
    assert (p.workers, p.threads) == (2, 2)


def test_memory_formula_shared_vs_private() -> None:
    # A 1 MiB body limit with 2 parse slots: (2 + BODY_EXPANSION) MiB per worker for requests.
    sizes: dict[str, Any] = {
        "worker_overhead_mib": 100,
        "headroom_mib": 50,
        "max_body_bytes": 2**20,
        "packed": False,
    }
    requests = 2 + resources.BODY_EXPANSION
    shared = plan(4, 500, **sizes)
    private = plan(4, 500, mmap=False, **sizes)
    assert (shared.model_copies, shared.memory_mib) == (1, 500 + 4 * (100 + requests) + 50)
    assert (private.model_copies, private.memory_mib) == (4, 4 * (500 + 100 + requests) + 50)


def test_packed_runtime_adds_one_copy_per_worker() -> None:
    # MODEL_RUNTIME=onnxruntime (the default): the mapped copy once, a packed copy per worker.
    sizes: dict[str, Any] = {"worker_overhead_mib": 100, "headroom_mib": 50, "max_body_bytes": 0}
    shared = plan(4, 500, **sizes)
    private = plan(4, 500, mmap=False, **sizes)
    assert (shared.model_copies, shared.memory_mib) == (5, 5 * 500 + 4 * 100 + 50)
    assert (private.model_copies, private.memory_mib) == (8, 8 * 500 + 4 * 100 + 50)


def test_fit_to_memory_reduces_private_copies() -> None:
    wanted = plan(4, 500, mmap=False, packed=False, worker_overhead_mib=100, headroom_mib=50)
    fitted = fit_to_memory(wanted, 1300)  # (1300 - 50) // 600 = 2 workers
    assert (fitted.workers, fitted.model_copies, fitted.threads) == (2, 2, 2)
    assert fitted.memory_mib <= 1300 and "starting 2 workers" in fitted.note


def test_fit_to_memory_counts_the_packed_copies() -> None:
    # Shared 500 + per worker (100 + 500 packed): (1900 - 50 - 500) // 600 = 2 workers.
    wanted = plan(4, 500, worker_overhead_mib=100, headroom_mib=50, max_body_bytes=0)
    fitted = fit_to_memory(wanted, 1900)
    assert (fitted.workers, fitted.model_copies) == (2, 3)
    assert fitted.memory_mib == 3 * 500 + 2 * 100 + 50 <= 1900


def test_fit_to_memory_keeps_a_plan_that_fits() -> None:
    wanted = plan(2, 100)
    assert fit_to_memory(wanted, 10_000).workers == wanted.workers
    assert fit_to_memory(wanted, None) == wanted


def test_fit_to_memory_refuses_with_numbers() -> None:
    with pytest.raises(
        ValueError, match=r"memory limit 200 MiB cannot hold one worker: model 500 MiB"
    ):
        fit_to_memory(plan(2, 500), 200)


@pytest.mark.parametrize(
    ("text", "cores"), [("2", 2.0), (2, 2.0), ("1500m", 1.5), ("0.5", 0.5), ("250m", 0.25)]
)
def test_parse_cpu_quantity(text: str | int, cores: float) -> None:
    assert parse_cpu_quantity(text) == cores


@pytest.mark.parametrize("text", ["abc", "", "-1", "0", "1.5.2", "2 cores"])
def test_parse_cpu_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpu_quantity(text)


def test_model_mib_counts_weight_files(tmp_path: Path) -> None:
    (tmp_path / "a.npy").write_bytes(b"\0" * 2**20)
    (tmp_path / "model.json").write_text("{}")
    assert resources.model_mib(tmp_path) == 1.0
