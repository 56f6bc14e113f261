"""Run the real service locally, optionally inside a fresh cgroup with a CPU quota and memory limit.

Used by the tests, the benchmark and the capacity planner: real gunicorn, real UvicornWorker
processes, real CFS quota (cgroup v1 or v2; needs root and a writable cgroup filesystem).

    with run_service(cpu_quota=1.5, memory_mib=600) as svc:
        httpx.get(svc.url + "/info")
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cgroup:
    """A throw-away cgroup; processes started with `enter` as preexec_fn run inside it."""

    cpu_quota: float | None = None
    memory_mib: int | None = None
    name: str = field(default_factory=lambda: f"corebound-{uuid.uuid4().hex[:8]}")
    dirs: list[Path] = field(default_factory=list)

    @staticmethod
    def unavailable_reason() -> str | None:
        if os.geteuid() != 0:
            return "creating cgroups needs root"
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            return None if os.access(CGROUP_ROOT, os.W_OK) else "cgroup v2 root is read-only"
        for controller in ("cpu", "memory"):
            if not (CGROUP_ROOT / controller).is_dir() or not os.access(
                CGROUP_ROOT / controller, os.W_OK
            ):
                return f"no writable cgroup v1 '{controller}' controller"
        return None

    @property
    def v2(self) -> bool:
        return (CGROUP_ROOT / "cgroup.controllers").exists()

    def create(self) -> Cgroup:
        if self.v2:
            d = CGROUP_ROOT / self.name
            subtree = CGROUP_ROOT / "cgroup.subtree_control"
            subtree.write_text("+cpu +memory")
            d.mkdir()
            if self.cpu_quota:
                (d / "cpu.max").write_text(f"{round(self.cpu_quota * PERIOD_US)} {PERIOD_US}")
            if self.memory_mib:
                (d / "memory.max").write_text(str(self.memory_mib * 2**20))
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
            (mem / "memory.limit_in_bytes").write_text(str(self.memory_mib * 2**20))
        return self

    def enter(self) -> None:
        """preexec_fn: move the child into every directory of this cgroup before exec."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def stats(self) -> dict[str, int]:
        """Throttling and memory figures, the same names for v1 and v2."""
        out: dict[str, int] = {}
        for d in self.dirs:
            for name in ("cpu.stat", "memory.events"):
                with contextlib.suppress(OSError):
                    for line in (d / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        out[key] = int(value)
            for src, dst in (
                ("memory.max_usage_in_bytes", "memory_peak_bytes"),
                ("memory.peak", "memory_peak_bytes"),
                ("memory.failcnt", "memory_failcnt"),
            ):
                with contextlib.suppress(OSError, ValueError):
                    out[dst] = int((d / src).read_text())
        return out

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):  # the kernel frees the cgroup once its last task is reaped
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def gunicorn_command(port: int) -> list[str]:
    """The start command users run (DESIGN.md), bound to loopback."""
    return [sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py",
            "--bind", f"127.0.0.1:{port}"]  # fmt: skip


def start_expecting_failure(
    env: Mapping[str, str] | None = None, cgroup: Cgroup | None = None
) -> subprocess.CompletedProcess[str]:
    """Run gunicorn when it should refuse to start; returns its CompletedProcess."""
    return subprocess.run(
        gunicorn_command(0), cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        preexec_fn=cgroup.enter if cgroup else None,
    )  # fmt: skip


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    cgroup: Cgroup | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []


def _wait_ready(svc: Service, workers: int | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if svc.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {svc.process.returncode}:\n{svc.log()[-3000:]}"
            )
        started = svc.log().count("Application startup complete")
        if started >= (workers or 1):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(svc.url + "/readyz", timeout=2).status_code == 200:
                    return
        time.sleep(0.1)
    raise TimeoutError(f"service not ready in {timeout_s} s:\n{svc.log()[-3000:]}")


@contextlib.contextmanager
def run_service(
    env: Mapping[str, str] | None = None,
    cpu_quota: float | None = None,
    memory_mib: int | None = None,
    *,
    wait_workers: int | None = None,
    ready_timeout_s: float = 90,
    extra_args: tuple[str, ...] = (),
) -> Iterator[Service]:
    """Start `gunicorn --config service/gunicorn_conf.py` on a free loopback port.

    `wait_workers`: wait until that many workers finished start-up (default: one).
    """
    cgroup = Cgroup(cpu_quota, memory_mib).create() if cpu_quota or memory_mib else None
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    for inherited in (
        "WEB_CONCURRENCY",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "COREBOUND_PLAN",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        if inherited not in (env or {}):
            full_env.pop(inherited, None)
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the service
        prefix="corebound-gunicorn-", suffix=".log", delete=False
    )
    cmd = [
        *gunicorn_command(port),
        *extra_args,
    ]
    process = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=cgroup.enter if cgroup else None,
        start_new_session=True,
    )
    svc = Service(f"http://127.0.0.1:{port}", process, Path(log_file.name), cgroup)
    try:
        _wait_ready(svc, wait_workers, ready_timeout_s)
        yield svc
    finally:
        stop(svc)
        if cgroup:
            cgroup.remove()
        log_file.close()


def stop(svc: Service, timeout_s: float = 40) -> int:
    if svc.process.poll() is None:
        svc.process.send_signal(signal.SIGTERM)
        try:
            svc.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(svc.process.pid, signal.SIGKILL)
            svc.process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(svc.process.pid, signal.SIGKILL)  # stragglers of the session
    return svc.process.returncode
