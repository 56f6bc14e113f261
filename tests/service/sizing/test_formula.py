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


# --- MODEL_PACKING: packed_plan ----------------------------------------------------------

SIZES: dict[str, Any] = {"worker_overhead_mib": 100, "headroom_mib": 50, "max_body_bytes": 0}


@pytest.mark.parametrize(
    ("packing", "model_mib", "packed"),
    [
        ("packed", 5000, True),  # far over the budget: asked for, so packed
        ("shared", 10, False),
        ("auto", 256, True),  # 4 workers x 256 = 1024 MiB: the budget exactly
        ("auto", 257, False),  # 1028 MiB of packed copies
    ],
)
def test_packing_is_as_asked_and_auto_packs_within_the_budget(
    packing: str, model_mib: float, packed: bool
) -> None:
    p = resources.packed_plan(4, model_mib, packing=packing, pack_max_mib=1024, **SIZES)

    assert p.model_packed is packed
    assert p.model_copies == (5 if packed else 1)  # the mapped copy + one packed per worker


def test_auto_packing_counts_the_workers_copies_against_the_budget() -> None:
    one_worker = resources.packed_plan(4, 300, web_concurrency=1, pack_max_mib=1024, **SIZES)
    four_workers = resources.packed_plan(4, 300, web_concurrency=4, pack_max_mib=1024, **SIZES)

    assert one_worker.model_packed and not four_workers.model_packed


def test_auto_packs_only_when_the_packed_plan_fits_the_memory_limit() -> None:
    packed = plan(4, 100, packed=True, **SIZES)
    shared = plan(4, 100, packed=False, **SIZES)

    tight = resources.packed_plan(4, 100, memory_limit_mib=packed.memory_mib - 1, **SIZES)
    enough = resources.packed_plan(4, 100, memory_limit_mib=packed.memory_mib, **SIZES)

    assert tight == shared and enough == packed


def test_asked_for_packing_is_kept_even_beyond_the_memory_limit() -> None:
    # fit_to_memory then starts fewer workers; packing is what was asked.
    p = resources.packed_plan(4, 100, packing="packed", memory_limit_mib=200, **SIZES)

    assert p.model_packed and p.workers == 4


@pytest.mark.parametrize("packing", ["auto", "packed"])
def test_only_onnx_runtime_packs_whatever_is_asked(packing: str) -> None:
    p = resources.packed_plan(4, 10, packing=packing, on_onnxruntime=False, **SIZES)

    assert not p.model_packed and p.model_copies == 1


def test_the_other_options_reach_the_plan() -> None:
    p = resources.packed_plan(4, 10, mode="latency", mmap=False, **SIZES)

    assert (p.workers, p.threads, p.model_mmap) == (1, 4, False)


def test_an_unknown_packing_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="MODEL_PACKING must be auto, packed or shared, got 'yes'"):
        resources.packed_plan(4, 10, packing="yes")


# --- which model a directory holds, and its size -----------------------------------------


@pytest.mark.parametrize(
    ("files", "model_class", "kind"),
    [
        (["model.onnx", "model.json"], None, "onnx"),
        (["model.json", "w.npy"], None, "artifact"),
        ([], None, "artifact"),
        (["model.onnx"], "mine.m:make", "class"),
    ],
)
def test_model_kind_is_the_class_else_model_onnx_else_the_artifact(
    tmp_path: Path, files: list[str], model_class: str | None, kind: str
) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"x")

    assert resources.model_kind(tmp_path, model_class) == kind


def test_an_onnx_models_size_is_model_onnx_and_its_external_data_not_model_json(
    tmp_path: Path,
) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\0" * 2**20)
    (tmp_path / "model.onnx.data").write_bytes(b"\0" * 2**21)
    (tmp_path / "model.json").write_bytes(b"\0" * 2**22)

    assert resources.model_mib(tmp_path, "onnx") == 3.0


def test_a_missing_model_directory_weighs_nothing(tmp_path: Path) -> None:
    assert resources.model_mib(tmp_path / "absent", "onnx") == 0.0
