"""Run the real job worker (`python -m service.jobs.worker`), optionally inside a fresh cgroup.

Used by `python -m scripts.local jobs` and the cgroup tests: real Celery prefork processes
under a real CFS quota, its plan read back from the JSON line it logs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.local.cgroup import Cgroup, optional_cgroup
from scripts.local.proc import child_pids
from scripts.local.service import logged_process

# Celery's line once the consumer takes messages ("celery@host ready."), at LOG_LEVEL info.
READY_MARK = " ready."


def worker_command() -> list[str]:
    """The job worker's start command (the chart's worker Deployment runs the same)."""
    return [sys.executable, "-m", "service.jobs.worker"]


@dataclass
class JobWorker:
    process: subprocess.Popen[bytes]
    log_path: Path
    cgroup: Cgroup | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def plan(self) -> dict[str, Any] | None:
        """The plan the worker logged as one JSON line; None until it has."""
        for line in self.log().splitlines():
            if '"event": "plan"' in line:
                plan: dict[str, Any] = json.loads(line[line.index("{") :])
                return plan
        return None

    def child_pids(self) -> list[int]:
        """The Celery prefork pool's processes."""
        return child_pids(self.process.pid)


@contextlib.contextmanager
def run_job_worker(
    env: Mapping[str, str] | None = None,
    cpu_quota: float | None = None,
    memory_mib: int | None = None,
    *,
    ready_timeout_s: float = 90,
    stop_timeout_s: float = 40,
) -> Iterator[JobWorker]:
    """Start the job worker; ready once it logged its plan, has the plan's pool processes and
    Celery said it is ready. SIGTERM on exit: Celery's warm shutdown (running jobs finish)."""
    with (
        optional_cgroup(cpu_quota, memory_mib) as cgroup,
        logged_process(
            worker_command(), env, cgroup, "corebound-jobs-worker-", stop_timeout_s=stop_timeout_s
        ) as (process, log_path),
    ):
        worker = JobWorker(process, log_path, cgroup)
        wait_worker_ready(worker, ready_timeout_s)
        yield worker


def wait_worker_ready(worker: JobWorker, timeout_s: float) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"job worker exited {worker.process.returncode}:\n{worker.log()[-3000:]}"
            )
        plan = worker.plan()
        if (
            plan is not None
            and READY_MARK in worker.log()
            and len(worker.child_pids()) >= plan["workers"]
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"job worker not ready in {timeout_s:g} s:\n{worker.log()[-3000:]}")
