"""Where the pinning benchmark's processes run and what the cores did meanwhile: cgroup
weights, the client's cgroup, the neighbour, the workers' cores and the machine's busy time
(the run: scripts/bench/pinning.py)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.local.cgroup import Cgroup
from scripts.local.proc import TICKS
from scripts.local.service import Service
from service.sizing.cgroups import CGROUP_ROOT, is_v2, own_cgroup_paths, v1_mount


def worker_tasks(svc: Service) -> list[Path]:
    """/proc/<pid>/task/<tid> of every thread of every worker."""
    return [t for pid in svc.worker_pids() for t in Path(f"/proc/{pid}/task").glob("*")]


def scheduler_counts(svc: Service) -> dict[str, int]:
    """Migrations between cores and involuntary switches, summed over the workers' threads."""
    migrations = switches = 0
    for task in worker_tasks(svc):
        with contextlib.suppress(OSError):
            for line in (task / "sched").read_text().splitlines():
                if line.startswith("se.nr_migrations"):
                    migrations += int(line.split(":")[1])
            for line in (task / "status").read_text().splitlines():
                if line.startswith("nonvoluntary_ctxt_switches"):
                    switches += int(line.split(":")[1])
    return {"migrations": migrations, "involuntary_switches": switches}


def worker_cores(svc: Service) -> list[str]:
    """Each worker's allowed cores, as the kernel lists them (every thread the same)."""
    found = []
    for pid in svc.worker_pids():
        masks = {
            line.split(":")[1].strip()
            for task in Path(f"/proc/{pid}/task").glob("*")
            for line in (task / "status").read_text().splitlines()
            if line.startswith("Cpus_allowed_list")
        }
        found.append(",".join(sorted(masks)))
    return found


def machine_cores() -> dict[str, float]:
    """CPU seconds of every core from /proc/stat: `tasks` (user, nice, system: what processes
    ran), `interrupts` (irq, softirq: loopback TCP is mostly softirq, charged to no process),
    `stolen` (by the hypervisor); `at`: the wall clock."""
    f = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "tasks": (f[0] + f[1] + f[2]) / TICKS,
        "interrupts": (f[5] + f[6]) / TICKS,
        "stolen": (f[7] if len(f) > 7 else 0) / TICKS,
        "at": time.monotonic(),
    }


@contextlib.contextmanager
def neighbour(core: int | None, weight: int) -> Iterator[subprocess.Popen[bytes] | None]:
    """A busy loop on `core` in a cgroup of its own, as another pod's container; None: none."""
    if core is None:
        yield None
        return
    cgroup = Cgroup().create()
    set_weight(cgroup.dirs, weight)  # a peer of the service's size

    def enter() -> None:
        cgroup.enter()
        os.sched_setaffinity(0, {core})

    try:
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=enter)
        try:
            yield burner
        finally:
            burner.kill()
            burner.wait()
    finally:
        cgroup.remove()


def set_weight(dirs: list[Path], weight: int) -> None:
    """The cgroup's CPU weight, `weight` times a default cgroup's (v1 shares, v2 weight)."""
    for d in dirs:
        if (d / "cpu.shares").exists():
            (d / "cpu.shares").write_text(str(1024 * weight))
        elif (d / "cpu.weight").exists():
            (d / "cpu.weight").write_text(str(min(10_000, 100 * weight)))


def _own_cpu_dir() -> Path:
    paths = own_cgroup_paths(Path("/proc/self/cgroup"))
    if is_v2():
        return CGROUP_ROOT / paths.get("", "/").lstrip("/")
    mount = v1_mount("cpu")
    assert mount is not None, "no cgroup v1 cpu controller"
    return mount / paths.get("cpu", "/").lstrip("/")


@contextlib.contextmanager
def client_cgroup(weight: int) -> Iterator[None]:
    """This process (and so wrk and the prober it starts) in a cgroup of `weight`, for the CPU
    controller only; moved back where it was afterwards."""
    home = _own_cpu_dir()
    cgroup = Cgroup().create()
    set_weight(cgroup.dirs, weight)
    (cgroup.dirs[0] / "cgroup.procs").write_text(str(os.getpid()))
    try:
        yield
    finally:
        (home / "cgroup.procs").write_text(str(os.getpid()))
        cgroup.remove()
