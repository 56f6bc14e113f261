"""A throw-away cgroup with a CPU quota and a memory limit, for starting the service inside.

Creating is this module's job; reading the figures back is `service.sizing.cgroups`' (the reader the
service itself uses).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.sizing.cgroups import CGROUP_ROOT, MIB, CgroupStats, is_v2

PERIOD_US = 100_000


@dataclass
class Cgroup:
    """Processes started with `enter` as preexec_fn run inside it."""

    cpu_quota: float | None = None
    memory_mib: int | None = None
    name: str = field(default_factory=lambda: f"corebound-{uuid.uuid4().hex[:8]}")
    dirs: list[Path] = field(default_factory=list)

    @staticmethod
    def unavailable_reason() -> str | None:
        if os.geteuid() != 0:
            return "creating cgroups needs root"
        if is_v2():
            return None if os.access(CGROUP_ROOT, os.W_OK) else "cgroup v2 root is read-only"
        for controller in ("cpu", "memory"):
            if not (CGROUP_ROOT / controller).is_dir() or not os.access(
                CGROUP_ROOT / controller, os.W_OK
            ):
                return f"no writable cgroup v1 '{controller}' controller"
        return None

    def create(self) -> Cgroup:
        if is_v2():
            d = CGROUP_ROOT / self.name
            (CGROUP_ROOT / "cgroup.subtree_control").write_text("+cpu +memory")
            d.mkdir()
            if self.cpu_quota:
                (d / "cpu.max").write_text(f"{round(self.cpu_quota * PERIOD_US)} {PERIOD_US}")
            if self.memory_mib:
                (d / "memory.max").write_text(str(self.memory_mib * MIB))
                (d / "memory.swap.max").write_text("0")
            self.dirs = [d]
            return self
        cpu, mem = CGROUP_ROOT / "cpu" / self.name, CGROUP_ROOT / "memory" / self.name
        cpu.mkdir()
        self.dirs.append(cpu)
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(
            str(round(self.cpu_quota * PERIOD_US)) if self.cpu_quota else "-1"
        )
        mem.mkdir()
        self.dirs.append(mem)
        if self.memory_mib:
            (mem / "memory.limit_in_bytes").write_text(str(self.memory_mib * MIB))
        return self

    def enter(self) -> None:
        """preexec_fn: move the child into every directory of this cgroup before exec."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def stats(self) -> CgroupStats:
        return CgroupStats.of_dirs(self.dirs)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):  # the kernel frees the cgroup once its last task is reaped
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


@contextlib.contextmanager
def optional_cgroup(cpu_quota: float | None, memory_mib: int | None) -> Iterator[Cgroup | None]:
    """A fresh cgroup when either limit is given (removed afterwards), else None."""
    if not (cpu_quota or memory_mib):
        yield None
        return
    cgroup = Cgroup(cpu_quota, memory_mib).create()
    try:
        yield cgroup
    finally:
        cgroup.remove()
