"""Sizing: cgroup parsing over fake trees (v1, v2, max, -1, missing) and the plan formula."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import resources
from service.resources import (
    cgroup_cpu_quota,
    cgroup_memory_limit_mib,
    fit_to_memory,
    parse_cpu_quantity,
    plan,
)


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def proc_cgroup(tmp_path: Path):
    def make(text: str) -> Path:
        path = tmp_path / "proc-self-cgroup"
        path.write_text(text)
        return path

    return make


V1_PROC = "12:memory:/kubepods/pod1/c1\n5:cpu,cpuacct:/kubepods/pod1/c1\n1:name=systemd:/x\n"
V2_PROC = "0::/kubepods/pod1/c1\n"


@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [
        ("150000", "100000", 1.5),
        ("200000", "100000", 2.0),
        ("50000", "100000", 0.5),
        ("-1", "100000", None),
    ],
)
def test_v1_quota(tmp_path, proc_cgroup, quota, period, expected):
    write(
        tmp_path,
        {
            "cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_quota_us": quota,
            "cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_period_us": period,
        },
    )
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V1_PROC)) == expected


def test_v1_tightest_ancestor_wins(tmp_path, proc_cgroup):
    write(
        tmp_path,
        {
            "cpu/kubepods/pod1/cpu.cfs_quota_us": "100000",
            "cpu/kubepods/pod1/cpu.cfs_period_us": "100000",
            "cpu/kubepods/pod1/c1/cpu.cfs_quota_us": "-1",
            "cpu/kubepods/pod1/c1/cpu.cfs_period_us": "100000",
        },
    )
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("4:cpu:/kubepods/pod1/c1\n")) == 1.0


def test_v1_container_namespace_reads_mount_root(tmp_path, proc_cgroup):
    # Inside a container without a cgroup namespace the host path is not under the mount.
    write(tmp_path, {"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("4:cpu:/docker/abc\n")) == 3.0


def test_v1_missing_files_mean_no_quota(tmp_path, proc_cgroup):
    (tmp_path / "cpu").mkdir()
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("4:cpu:/\n")) is None


def test_no_cgroup_fs_at_all(tmp_path, proc_cgroup):
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("")) is None
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup("")) is None


@pytest.mark.parametrize(
    ("cpu_max", "expected"), [("250000 100000", 2.5), ("max 100000", None), ("100000", 1.0)]
)
def test_v2_cpu_max(tmp_path, proc_cgroup, cpu_max, expected):
    write(tmp_path, {"cgroup.controllers": "cpu memory", "kubepods/pod1/c1/cpu.max": cpu_max})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V2_PROC)) == expected


def test_v2_missing_cpu_max(tmp_path, proc_cgroup):
    write(tmp_path, {"cgroup.controllers": "memory", "kubepods/pod1/c1/memory.max": "max"})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V2_PROC)) is None
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V2_PROC)) is None


def test_v2_memory(tmp_path, proc_cgroup):
    write(
        tmp_path,
        {"cgroup.controllers": "cpu memory", "kubepods/pod1/c1/memory.max": str(512 * 2**20)},
    )
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V2_PROC)) == 512


def test_v1_memory_unlimited_is_none(tmp_path, proc_cgroup):
    write(tmp_path, {"memory/kubepods/pod1/c1/memory.limit_in_bytes": "9223372036854771712"})
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V1_PROC)) is None
    write(tmp_path, {"memory/kubepods/pod1/c1/memory.limit_in_bytes": str(300 * 2**20)})
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V1_PROC)) == 300


def test_detect_cpu_limit_caps_quota_by_affinity(tmp_path, proc_cgroup, monkeypatch):
    write(tmp_path, {"cpu/cpu.cfs_quota_us": "800000", "cpu/cpu.cfs_period_us": "100000"})
    monkeypatch.setattr(resources, "affinity_cpus", lambda: 2)
    assert resources.detect_cpu_limit(tmp_path, proc_cgroup("4:cpu:/\n")) == 2.0
    (tmp_path / "cpu/cpu.cfs_quota_us").write_text("-1")
    assert resources.detect_cpu_limit(tmp_path, proc_cgroup("4:cpu:/\n")) == 2.0


@pytest.mark.parametrize(
    ("cpu", "workers", "threads"),
    [(0.5, 1, 1), (1, 1, 1), (1.5, 1, 1), (2, 2, 1), (2.9, 2, 1), (4, 4, 1), (16, 16, 1)],
)
def test_throughput_mode_one_worker_per_whole_core(cpu, workers, threads):
    p = plan(cpu, 100)
    assert (p.workers, p.threads) == (workers, threads)


def test_latency_mode_one_worker_all_threads():
    p = plan(4, 100, mode="latency")
    assert (p.workers, p.threads) == (1, 4)


def test_web_concurrency_wins_and_threads_follow():
    p = plan(4, 100, web_concurrency=2)
    assert (p.workers, p.threads) == (2, 2)


def test_memory_formula_shared_vs_private():
    # A 1 MiB body limit with 2 parse slots: (2 + BODY_EXPANSION) MiB per worker for requests.
    sizes = {"worker_overhead_mib": 100, "headroom_mib": 50, "max_body_bytes": 2**20}
    requests = 2 + resources.BODY_EXPANSION
    shared = plan(4, 500, **sizes)
    private = plan(4, 500, mmap=False, **sizes)
    assert (shared.model_copies, shared.memory_mib) == (1, 500 + 4 * (100 + requests) + 50)
    assert (private.model_copies, private.memory_mib) == (4, 4 * (500 + 100 + requests) + 50)


def test_fit_to_memory_reduces_private_copies():
    wanted = plan(4, 500, mmap=False, worker_overhead_mib=100, headroom_mib=50)
    fitted = fit_to_memory(wanted, 1300)  # (1300 - 50) // 600 = 2 workers
    assert (fitted.workers, fitted.model_copies, fitted.threads) == (2, 2, 2)
    assert fitted.memory_mib <= 1300 and "starting 2 workers" in fitted.note


def test_fit_to_memory_keeps_a_plan_that_fits():
    wanted = plan(2, 100)
    assert fit_to_memory(wanted, 10_000).workers == wanted.workers
    assert fit_to_memory(wanted, None) == wanted


def test_fit_to_memory_refuses_with_numbers():
    with pytest.raises(
        ValueError, match=r"memory limit 200 MiB cannot hold one worker: model 500 MiB"
    ):
        fit_to_memory(plan(2, 500), 200)


@pytest.mark.parametrize(
    ("text", "cores"), [("2", 2.0), (2, 2.0), ("1500m", 1.5), ("0.5", 0.5), ("250m", 0.25)]
)
def test_parse_cpu_quantity(text, cores):
    assert parse_cpu_quantity(text) == cores


@pytest.mark.parametrize("text", ["abc", "", "-1", "0", "1.5.2", "2 cores"])
def test_parse_cpu_quantity_rejects(text):
    with pytest.raises(ValueError):
        parse_cpu_quantity(text)


def test_model_mib_counts_weight_files(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"\0" * 2**20)
    (tmp_path / "model.json").write_text("{}")
    assert resources.model_mib(tmp_path) == 1.0
