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
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts.local.cgroup import Cgroup
from scripts.local.net import free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]
BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Variables a caller's shell could leak into a started service and change what it plans.
INHERITED_ENV = (*BLAS_VARS, "WEB_CONCURRENCY", "COREBOUND_PLAN", "PROMETHEUS_MULTIPROC_DIR")


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without INHERITED_ENV, then `env` on top."""
    return {
        **{k: v for k, v in os.environ.items() if k not in INHERITED_ENV},
        **(env or {}),
    }


def gunicorn_command(port: int) -> list[str]:
    """The start command users run (README "Run it"), bound to loopback."""
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
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the service
        prefix="corebound-gunicorn-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [*gunicorn_command(port), *extra_args],
        cwd=REPO,
        env=clean_env(env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=cgroup.enter if cgroup else None,
        start_new_session=True,
    )
    svc = Service(f"http://127.0.0.1:{port}", process, Path(log_file.name), cgroup)
    try:
        wait_ready(
            process, svc.log_path, svc.url, workers=wait_workers or 1, timeout_s=ready_timeout_s
        )
        yield svc
    finally:
        stop(svc.process)
        if cgroup:
            cgroup.remove()
        log_file.close()


def stop(process: subprocess.Popen[bytes], timeout_s: float = 40) -> int:
    """SIGTERM, wait, then SIGKILL the whole session (pool processes left behind too)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the session
    return process.returncode
