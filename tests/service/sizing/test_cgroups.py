"""The one cgroup reader over fake trees: v1, v2, max, -1, missing, nested ancestors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from service.sizing import cgroups
from service.sizing.cgroups import cgroup_cpu_quota, cgroup_memory_limit_mib


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def proc_cgroup(tmp_path: Path) -> Callable[[str], Path]:
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
def test_v1_quota(
    tmp_path: Path,
    proc_cgroup: Callable[[str], Path],
    quota: str,
    period: str,
    expected: float | None,
) -> None:
    write(
        tmp_path,
        {
            "cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_quota_us": quota,
            "cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_period_us": period,
        },
    )
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V1_PROC)) == expected


def test_v1_tightest_ancestor_wins(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
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


def test_v1_container_namespace_reads_mount_root(
    tmp_path: Path, proc_cgroup: Callable[[str], Path]
) -> None:
    # Inside a container without a cgroup namespace the host path is not under the mount.
    write(tmp_path, {"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("4:cpu:/docker/abc\n")) == 3.0


def test_v1_missing_files_mean_no_quota(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
    (tmp_path / "cpu").mkdir()
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("4:cpu:/\n")) is None


def test_no_cgroup_fs_at_all(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
    assert cgroup_cpu_quota(tmp_path, proc_cgroup("")) is None
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup("")) is None


@pytest.mark.parametrize(
    ("cpu_max", "expected"), [("250000 100000", 2.5), ("max 100000", None), ("100000", 1.0)]
)
def test_v2_cpu_max(
    tmp_path: Path, proc_cgroup: Callable[[str], Path], cpu_max: str, expected: float | None
) -> None:
    write(tmp_path, {"cgroup.controllers": "cpu memory", "kubepods/pod1/c1/cpu.max": cpu_max})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V2_PROC)) == expected


def test_v2_missing_cpu_max(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
    write(tmp_path, {"cgroup.controllers": "memory", "kubepods/pod1/c1/memory.max": "max"})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup(V2_PROC)) is None
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V2_PROC)) is None


def test_v2_memory(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
    write(
        tmp_path,
        {"cgroup.controllers": "cpu memory", "kubepods/pod1/c1/memory.max": str(512 * 2**20)},
    )
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V2_PROC)) == 512


def test_v1_memory_unlimited_is_none(tmp_path: Path, proc_cgroup: Callable[[str], Path]) -> None:
    write(tmp_path, {"memory/kubepods/pod1/c1/memory.limit_in_bytes": "9223372036854771712"})
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V1_PROC)) is None
    write(tmp_path, {"memory/kubepods/pod1/c1/memory.limit_in_bytes": str(300 * 2**20)})
    assert cgroup_memory_limit_mib(tmp_path, proc_cgroup(V1_PROC)) == 300


def test_detect_cpu_limit_caps_quota_by_affinity(
    tmp_path: Path, proc_cgroup: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"cpu/cpu.cfs_quota_us": "800000", "cpu/cpu.cfs_period_us": "100000"})
    monkeypatch.setattr(cgroups, "affinity_cpus", lambda: 2)
    assert cgroups.detect_cpu_limit(tmp_path, proc_cgroup("4:cpu:/\n")) == 2.0
    (tmp_path / "cpu/cpu.cfs_quota_us").write_text("-1")
    assert cgroups.detect_cpu_limit(tmp_path, proc_cgroup("4:cpu:/\n")) == 2.0


def test_stats_v2_reads_one_directory(tmp_path: Path) -> None:
    d = tmp_path / "pod" / "c1"
    write(tmp_path, {"cgroup.controllers": "cpu memory\n"})
    write(d, {
        "cpu.stat": "usage_usec 3000000\nnr_periods 50\nnr_throttled 7\nthrottled_usec 250000\n",
        "memory.current": str(300 * cgroups.MIB), "memory.peak": str(400 * cgroups.MIB),
        "memory.events": "low 0\nhigh 0\nmax 2\noom 0\noom_kill 1\n",
        "memory.stat": f"anon {100 * cgroups.MIB}\nfile {50 * cgroups.MIB}\nfile_mapped 0\n",
        "cgroup.procs": "12\n34\n",
    })  # fmt: skip
    stats = cgroups.CgroupStats.of_dirs([d], tmp_path)
    assert stats.cpu() == {
        "periods": 50, "throttled_periods": 7, "throttled_s": 0.25, "usage_s": 3.0,
    }  # fmt: skip
    memory = stats.memory()
    assert (memory["usage_mib"], memory["peak_mib"]) == (300, 400)
    assert (memory["oom_kills"], memory["limit_hits"], memory["anon_mib"]) == (1, 2, 100)
    assert stats.pids() == [12, 34]


def test_stats_v1_without_cpuacct_in_the_cpu_hierarchy(tmp_path: Path) -> None:
    # This machine's layout: cpu and cpuacct mounted apart, the cgroup made under cpu/ only.
    cpu, mem = tmp_path / "cpu" / "g", tmp_path / "memory" / "g"
    write(cpu, {"cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 2000000000\n"})
    write(mem, {
        "memory.usage_in_bytes": str(cgroups.MIB),
        "memory.max_usage_in_bytes": str(5 * cgroups.MIB),
        "memory.failcnt": "3",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        "memory.stat": f"rss {cgroups.MIB}\ncache 0\nmapped_file 0\n",
    })  # fmt: skip
    stats = cgroups.CgroupStats.of_dirs([cpu, mem], tmp_path)
    cpu_figures = stats.cpu()
    assert (cpu_figures["periods"], cpu_figures["throttled_s"]) == (10, 2.0)
    assert cpu_figures["usage_s"] != cpu_figures["usage_s"]  # NaN: no usage counter here
    assert stats.memory()["peak_mib"] == 5 and stats.memory()["limit_hits"] == 3


def test_stats_of_this_process_finds_its_own_cgroup() -> None:
    stats = cgroups.CgroupStats.of_pid(os.getpid())
    assert stats.mem_dir.is_dir() and os.getpid() in stats.pids()
