"""The one cgroup reader: this container's limits, and any process's CPU and memory figures.

Reads cgroup v2 (`cpu.max`, `memory.max`) and v1 (CFS quota/period, `memory.limit_in_bytes`)
because `os.cpu_count()` in a pod returns the node's cores. The service sizes itself with
`detect_cpu_limit` and `cgroup_memory_limit_mib`; the tools and tests read throttling and
memory of a cgroup they made or of a container's PID 1 with `CgroupStats`. Imports nothing
heavy: gunicorn's master runs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
# cgroup v1 reports "no memory limit" as a page-rounded LONG_MAX; anything this big is none.
_UNLIMITED_BYTES = 1 << 60

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# v1 mounts the cpu controller alone or co-mounted with cpuacct, named either way round.
_V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def own_cgroup_paths(proc_cgroup: Path) -> dict[str, str]:
    """Controller name -> the process's cgroup path ("" key for the v2 unified hierarchy).

    `proc_cgroup` is /proc/<pid>/cgroup; an unreadable file gives {} (no limits known).
    """
    paths: dict[str, str] = {}
    try:
        text = proc_cgroup.read_text()
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def v1_mount(controller: str, root: Path = CGROUP_ROOT) -> Path | None:
    """Where the v1 hierarchy holding `controller` is mounted, or None."""
    candidates = _V1_CPU_MOUNTS if controller in ("cpu", "cpuacct") else (controller,)
    for name in (controller, *candidates):
        if (root / name).is_dir() and controller in name.split(","):
            return root / name
    return None


def _ancestors(mount: Path, cgroup_path: str) -> list[Path]:
    """The process's cgroup directory and every parent up to the mount, deepest first.

    Without a cgroup namespace the path names the host hierarchy; if it does not exist under
    the mount (a container that mounts only its own cgroup at the root), the mount is it.
    """
    dirs: list[Path] = []
    current = mount / cgroup_path.lstrip("/")
    while True:
        if current.is_dir():
            dirs.append(current)
        if current == mount or mount not in current.parents:
            break
        current = current.parent
    return dirs or [mount]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_cpu_quota(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """CPU cores allowed by CFS quota, the tightest along the hierarchy; None when unlimited."""
    own = own_cgroup_paths(proc_cgroup)
    limits: list[float] = []
    if is_v2(root):
        for d in _ancestors(root, own.get("", "/")):
            raw = _read(d / "cpu.max")
            if raw and not raw.startswith("max"):
                quota, _, period = raw.partition(" ")
                limits.append(int(quota) / int(period or 100000))
        return min(limits) if limits else None
    mount = v1_mount("cpu", root)
    if mount is None:
        return None
    for d in _ancestors(mount, own.get("cpu", "/")):
        quota_us, period_us = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
        if quota_us and period_us and int(quota_us) > 0 and int(period_us) > 0:
            limits.append(int(quota_us) / int(period_us))
    return min(limits) if limits else None


def cgroup_memory_limit_mib(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> int | None:
    """Memory limit in MiB, the tightest along the hierarchy; None when unlimited."""
    own = own_cgroup_paths(proc_cgroup)
    if is_v2(root):
        dirs, filename = _ancestors(root, own.get("", "/")), "memory.max"
    elif (root / "memory").is_dir():
        dirs = _ancestors(root / "memory", own.get("memory", "/"))
        filename = "memory.limit_in_bytes"
    else:
        return None
    limits = []
    for d in dirs:
        raw = _read(d / filename)
        if raw and raw != "max" and raw.isdigit() and int(raw) < _UNLIMITED_BYTES:
            limits.append(int(raw) // MIB)
    return min(limits) if limits else None


def affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def detect_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float:
    """The cores this container may use: the CFS quota, capped by the CPUs it may run on."""
    quota = cgroup_cpu_quota(root, proc_cgroup)
    cpus = float(affinity_cpus())
    return min(quota, cpus) if quota is not None else cpus


# --- figures of one cgroup (the tools and tests) -------------------------------------------


def _kv(path: Path) -> dict[str, int]:
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {k: int(v) for k, v in pairs}


def _int(path: Path) -> int:
    return int(path.read_text().split()[0])


@dataclass(frozen=True)
class CgroupStats:
    """CPU and memory figures of one cgroup, the same names for v1 and v2.

    v2 has one directory for everything; v1 has one per controller (cpuacct may share cpu's).
    """

    v2: bool
    cpu_dir: Path
    acct_dir: Path
    mem_dir: Path

    @classmethod
    def of_pid(cls, pid: int, root: Path = CGROUP_ROOT) -> CgroupStats:
        """The cgroup a process runs in (a container's PID 1: the container's cgroup)."""
        paths = own_cgroup_paths(Path(f"/proc/{pid}/cgroup"))
        if is_v2(root):
            return cls.of_dirs([root / paths[""].lstrip("/")], root)
        dirs = []
        for controller in ("cpu", "cpuacct", "memory"):
            mount = v1_mount(controller, root)
            if mount is None:
                raise FileNotFoundError(f"no cgroup v1 mount for {controller}")
            dirs.append(mount / paths[controller].lstrip("/"))
        return cls(False, dirs[0], dirs[1], dirs[2])

    @classmethod
    def of_dirs(cls, dirs: list[Path], root: Path = CGROUP_ROOT) -> CgroupStats:
        """A cgroup from its directories: one (v2) or [cpu(,cpuacct), memory] (v1)."""
        if is_v2(root):
            return cls(True, dirs[0], dirs[0], dirs[0])
        cpu, mem = dirs[0], dirs[-1]
        return cls(False, cpu, cpu, mem)

    def cpu(self) -> dict[str, float]:
        """CFS periods, throttled periods, seconds throttled and CPU seconds used."""
        stat = _kv(self.cpu_dir / "cpu.stat")
        if self.v2:
            throttled_s, usage_s = stat["throttled_usec"] / 1e6, stat["usage_usec"] / 1e6
        else:
            throttled_s = stat["throttled_time"] / 1e9
            acct = self.acct_dir / "cpuacct.usage"
            usage_s = _int(acct) / 1e9 if acct.exists() else float("nan")
        return {"periods": stat["nr_periods"], "throttled_periods": stat["nr_throttled"],
                "throttled_s": throttled_s, "usage_s": usage_s}  # fmt: skip

    def memory(self) -> dict[str, float]:
        """Usage, peak, OOM kills, limit hits and the anonymous/file split, in MiB."""
        d = self.mem_dir
        if self.v2:
            stat, events = _kv(d / "memory.stat"), _kv(d / "memory.events")
            peak = d / "memory.peak"
            current = _int(d / "memory.current")
            return {
                "usage_mib": current / MIB,
                "peak_mib": (_int(peak) if peak.exists() else current) / MIB,
                "oom_kills": events.get("oom_kill", 0),
                "limit_hits": events.get("max", 0),
                "anon_mib": stat.get("anon", 0) / MIB,
                "file_mib": stat.get("file", 0) / MIB,
                "mapped_file_mib": stat.get("file_mapped", 0) / MIB,
            }
        stat, oom = _kv(d / "memory.stat"), _kv(d / "memory.oom_control")
        return {
            "usage_mib": _int(d / "memory.usage_in_bytes") / MIB,
            "peak_mib": _int(d / "memory.max_usage_in_bytes") / MIB,
            "oom_kills": oom.get("oom_kill", 0),
            "limit_hits": _int(d / "memory.failcnt"),
            "anon_mib": stat.get("rss", 0) / MIB,
            "file_mib": stat.get("cache", 0) / MIB,
            "mapped_file_mib": stat.get("mapped_file", 0) / MIB,
        }

    def pids(self) -> list[int]:
        return [int(p) for p in (self.mem_dir / "cgroup.procs").read_text().split()]
