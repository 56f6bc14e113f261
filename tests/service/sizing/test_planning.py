"""This process's plan: the settings, the model directory and the container's cgroup limits
through the formula, and the plan a worker inherits from gunicorn's master (COREBOUND_PLAN).

The cgroup is a fake v2 tree read by the real reader (as in test_cgroups.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.settings import Settings
from service.sizing import cgroups, planning
from service.sizing.cgroups import MIB
from service.sizing.formula import DEFAULT_INPUT_DIM, largest_body_bytes, request_mib
from service.sizing.planning import PLAN_ENV, inherited_plan, plan_for, planned_body_bytes


@dataclass
class FakeCgroup:
    root: Path

    def limit(self, cpu_max: str = "max 100000", memory_max: str = "max") -> None:
        (self.root / "c1" / "cpu.max").write_text(cpu_max)
        (self.root / "c1" / "memory.max").write_text(memory_max)


@pytest.fixture
def cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCgroup:
    """A container on an 8-CPU node; no limits until the test sets them."""
    root = tmp_path / "cgroup"
    (root / "c1").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/c1\n")
    monkeypatch.setattr(cgroups, "affinity_cpus", lambda: 8)
    monkeypatch.setattr(planning, "detect_cpu_limit", partial(cgroups.detect_cpu_limit, root, proc))
    monkeypatch.setattr(
        planning, "cgroup_memory_limit_mib", partial(cgroups.cgroup_memory_limit_mib, root, proc)
    )
    fake = FakeCgroup(root)
    fake.limit()
    return fake


def model_dir(tmp_path: Path, input_dim: int | None = 8, weight_values: int = 0) -> Path:
    """A model directory: model.json (unless None: a MODEL_CLASS-only dir) and one weight."""
    path = tmp_path / "model"
    path.mkdir()
    if input_dim is not None:
        (path / "model.json").write_text(json.dumps({"name": "m", "input_dim": input_dim}))
    if weight_values:
        np.save(path / "w.npy", np.zeros(weight_values, np.float32))
    return path


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(model_dir=model_dir(tmp_path), **kw)


@pytest.mark.parametrize(("mode", "workers", "threads"), [("throughput", 2, 1), ("latency", 1, 2)])
def test_workers_and_threads_follow_the_containers_cpu_quota(
    cgroup: FakeCgroup, tmp_path: Path, mode: str, workers: int, threads: int
) -> None:
    cgroup.limit(cpu_max="250000 100000")  # 2.5 cores on an 8-CPU node

    p = plan_for(settings(tmp_path, concurrency_mode=mode))

    assert (p.cpu_limit, p.mode, p.workers, p.threads) == (2.5, mode, workers, threads)


def test_the_settings_reach_the_plan(cgroup: FakeCgroup, tmp_path: Path) -> None:
    s = settings(
        tmp_path, web_concurrency=3, omp_num_threads=2, model_mmap=False, model_runtime="numpy",
        worker_overhead_mib=50, memory_headroom_mib=10, parse_concurrency=4,
        max_body_bytes=MIB,
    )  # fmt: skip

    p = plan_for(s)

    assert (p.workers, p.threads, p.model_mmap, p.model_copies) == (3, 2, False, 3)
    assert (p.worker_overhead_mib, p.headroom_mib, p.max_body_bytes) == (50, 10, MIB)
    assert p.request_mib == request_mib(MIB, 4)


@pytest.mark.parametrize(
    ("runtime", "model_class", "packed"),
    [("onnxruntime", None, True), ("numpy", None, False), ("onnxruntime", "mine.m:make", False)],
    ids=["built-in-onnxruntime", "built-in-numpy", "model-class"],
)
def test_only_the_built_in_mlp_under_onnxruntime_is_planned_packed(
    cgroup: FakeCgroup, tmp_path: Path, runtime: str, model_class: str | None, packed: bool
) -> None:
    p = plan_for(settings(tmp_path, model_runtime=runtime, model_class=model_class))

    assert p.model_packed is packed
    assert p.model_copies == 1 + (p.workers if packed else 0)  # mapped once, packed per worker


def test_the_model_costs_what_its_weight_files_hold(cgroup: FakeCgroup, tmp_path: Path) -> None:
    path = model_dir(tmp_path, weight_values=MIB // 4)  # 1 MiB of float32 and a .npy header
    size = (path / "w.npy").stat().st_size

    p = plan_for(Settings(model_dir=path))

    assert size > MIB and p.model_mib == round(size / MIB, 3)


def test_no_memory_limit_leaves_the_plan_as_wanted(cgroup: FakeCgroup, tmp_path: Path) -> None:
    p = plan_for(settings(tmp_path))

    assert (p.workers, p.memory_limit_mib, p.note) == (8, None, "")


def test_a_memory_limit_that_holds_fewer_workers_starts_fewer(
    cgroup: FakeCgroup, tmp_path: Path
) -> None:
    cgroup.limit(cpu_max="400000 100000")
    s = settings(tmp_path)
    wanted = plan_for(s)
    cgroup.limit(cpu_max="400000 100000", memory_max=str((wanted.memory_mib - 1) * MIB))

    p = plan_for(s)

    assert (wanted.workers, p.workers, p.threads) == (4, 3, 1)
    assert p.memory_limit_mib == wanted.memory_mib - 1 and p.memory_mib <= p.memory_limit_mib
    assert "starting 3 workers" in p.note


def test_a_memory_limit_below_one_worker_is_refused_naming_the_numbers(
    cgroup: FakeCgroup, tmp_path: Path
) -> None:
    cgroup.limit(memory_max=str(64 * MIB))

    with pytest.raises(ValueError, match="memory limit 64 MiB cannot hold one worker") as refused:
        plan_for(settings(tmp_path))

    assert "MiB needed" in str(refused.value)


def test_max_body_bytes_is_the_planned_body_when_set(tmp_path: Path) -> None:
    assert planned_body_bytes(settings(tmp_path, max_body_bytes=2048)) == 2048


def test_the_planned_body_is_the_largest_request_for_the_artifacts_width(tmp_path: Path) -> None:
    s = Settings(model_dir=model_dir(tmp_path, input_dim=8), max_rows_per_request=10)

    assert planned_body_bytes(s) == largest_body_bytes(10, 8)


def test_without_model_json_the_planned_body_assumes_the_default_width(tmp_path: Path) -> None:
    s = Settings(model_dir=model_dir(tmp_path, input_dim=None), model_class="mine.m:make")

    assert planned_body_bytes(s) == largest_body_bytes(256, DEFAULT_INPUT_DIM)


def test_the_plan_budgets_the_planned_body(cgroup: FakeCgroup, tmp_path: Path) -> None:
    s = settings(tmp_path, max_rows_per_request=16)

    assert plan_for(s).max_body_bytes == planned_body_bytes(s) == largest_body_bytes(16, 8)


@pytest.mark.parametrize("inherited", [None, ""], ids=["unset", "empty"])
def test_without_an_inherited_plan_a_worker_plans_for_itself(
    cgroup: FakeCgroup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inherited: str | None
) -> None:
    if inherited is None:
        monkeypatch.delenv(PLAN_ENV, raising=False)
    else:
        monkeypatch.setenv(PLAN_ENV, inherited)
    cgroup.limit(cpu_max="200000 100000")
    s = settings(tmp_path)

    assert inherited_plan(s) == plan_for(s)


def test_a_worker_inherits_the_masters_plan_unchanged(
    cgroup: FakeCgroup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cgroup.limit(cpu_max="400000 100000", memory_max=str(1024 * MIB))
    s = settings(tmp_path)
    master = plan_for(s)
    monkeypatch.setenv(PLAN_ENV, json.dumps(master.as_dict()))  # as gunicorn_conf.py sets it
    # A worker reads the master's plan, not the cgroup (a limit changed since would not count).
    cgroup.limit(cpu_max="100000 100000", memory_max="max")

    assert inherited_plan(s) == master
    assert master.memory_limit_mib == 1024 and master.workers == 4


def onnx_dir(tmp_path: Path) -> Path:
    """A model.onnx directory: the graph and its external data, 1 MiB each, and a model.json."""
    path = tmp_path / "graph"
    path.mkdir()
    for name in ("model.onnx", "weights.bin", "model.json"):
        (path / name).write_bytes(b"\0" * MIB)
    return path


def test_a_model_onnx_is_planned_packed_at_the_size_of_its_graph_files(
    cgroup: FakeCgroup, tmp_path: Path
) -> None:
    p = plan_for(Settings(model_dir=onnx_dir(tmp_path)))  # 8 workers x 2 MiB: within budget

    assert (p.model_mib, p.model_packed, p.model_copies) == (2.0, True, 1 + 8)


@pytest.mark.parametrize(
    ("packing", "budget_mib", "packed"),
    [("packed", 0, True), ("shared", 1024, False), ("auto", 16, True), ("auto", 15, False)],
)
def test_model_packing_is_as_asked_and_auto_packs_within_model_pack_max_mib(
    cgroup: FakeCgroup, tmp_path: Path, packing: str, budget_mib: int, packed: bool
) -> None:
    s = Settings(model_dir=onnx_dir(tmp_path), model_packing=packing, model_pack_max_mib=budget_mib)

    p = plan_for(s)  # 8 workers x 2 MiB = 16 MiB of packed copies

    assert p.model_packed is packed


def test_auto_plans_shared_when_the_packed_copies_would_not_fit_the_memory_limit(
    cgroup: FakeCgroup, tmp_path: Path
) -> None:
    path = onnx_dir(tmp_path)
    packed = plan_for(Settings(model_dir=path, model_packing="packed"))
    shared = plan_for(Settings(model_dir=path, model_packing="shared"))
    cgroup.limit(memory_max=str((packed.memory_mib - 1) * MIB))

    p = plan_for(Settings(model_dir=path))

    assert not p.model_packed and p.workers == packed.workers == 8
    assert p.memory_mib == shared.memory_mib and p.note == ""


def test_a_model_class_never_packs_even_when_asked_and_costs_every_file(
    cgroup: FakeCgroup, tmp_path: Path
) -> None:
    s = Settings(model_dir=onnx_dir(tmp_path), model_class="mine.m:make", model_packing="packed")

    p = plan_for(s)

    assert (p.model_packed, p.model_copies, p.model_mib) == (False, 1, 3.0)


def test_a_model_onnx_on_the_numpy_runtime_is_refused(cgroup: FakeCgroup, tmp_path: Path) -> None:
    s = Settings(model_dir=onnx_dir(tmp_path), model_runtime="numpy")

    with pytest.raises(ValueError, match="MODEL_RUNTIME=numpy runs only the built-in MLP"):
        plan_for(s)
