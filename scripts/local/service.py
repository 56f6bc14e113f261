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

from scripts.local.cgroup import Cgroup, optional_cgroup
from scripts.local.net import free_port, wait_ready
from scripts.local.proc import child_pids

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
    env: Mapping[str, str] | None = None,
    cgroup: Cgroup | None = None,
    command: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run gunicorn (or `command`) when it should refuse to start; its CompletedProcess."""
    return subprocess.run(
        command or gunicorn_command(0), cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, preexec_fn=cgroup.enter if cgroup else None,
    )  # fmt: skip


@contextlib.contextmanager
def logged_process(
    command: list[str],
    env: Mapping[str, str] | None,
    cgroup: Cgroup | None,
    log_prefix: str,
    *,
    stop_timeout_s: float = 40,
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`command` in its own session (optionally inside `cgroup`), output to a kept temp log;
    stopped with `stop` on exit. The environment is `clean_env(env)`."""
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
        prefix=log_prefix, suffix=".log", delete=False
    )
    try:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=clean_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=cgroup.enter if cgroup else None,
            start_new_session=True,
        )
        try:
            yield process, Path(log_file.name)
        finally:
            stop(process, stop_timeout_s)
    finally:
        log_file.close()


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    cgroup: Cgroup | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)


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
    port = free_port()
    command = [*gunicorn_command(port), *extra_args]
    with (
        optional_cgroup(cpu_quota, memory_mib) as cgroup,
        logged_process(command, env, cgroup, "corebound-gunicorn-") as (process, log_path),
    ):
        svc = Service(f"http://127.0.0.1:{port}", process, log_path, cgroup)
        wait_ready(process, log_path, svc.url, workers=wait_workers or 1, timeout_s=ready_timeout_s)
        yield svc


def stop(process: subprocess.Popen[bytes], timeout_s: float = 40) -> int:
    """SIGTERM, wait, then SIGKILL the whole session (pool processes left behind too).

    Interrupted while it waits (a second Ctrl-C), it kills the session at once and re-raises:
    nothing it started outlives the caller.
    """
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout_s)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of the session, or all of it
        process.wait()
    return process.returncode
