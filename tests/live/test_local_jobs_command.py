"""`python -m scripts.local jobs` for real: Redis, the job worker and gunicorn start, a job is
answered exactly as /v1/predict answers, the printed curl lines work as pasted, and SIGTERM
leaves nothing running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from paths import REPO
from serving import holdout

from scripts.local.proc import session_pids

PARTS = ("gunicorn", "job worker", "redis")


@contextlib.contextmanager
def jobs_command(timeout_s: float = 120) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The command as a user runs it, and its banner once it printed the curl lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.local", "jobs"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    printed = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "sleep 1; curl" in line:
                printed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not printed.wait(timeout_s):
            pytest.fail(f"no banner in {timeout_s} s:\n{''.join(lines)}")
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in re.findall(r"pid (\d+)", "".join(lines)):  # a failed test leaks nothing
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


def finished(location: str, timeout_s: float = 60) -> dict[str, Any]:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        job: dict[str, Any] = httpx.get(location).raise_for_status().json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"{location} still {job['status']} after {timeout_s} s")


def test_jobs_command_serves_a_job_and_sigterm_stops_all_three() -> None:
    with jobs_command() as (process, banner):
        match = re.search(r"job API on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        url = match[1]
        pids = {part: int(pid) for part, pid in re.findall(r"  (\w[\w ]*) pid (\d+)", banner)}
        logs = dict(re.findall(r"  (\w[\w ]*) pid \d+\b.* log (\S+)", banner))
        assert sorted(pids) == sorted(logs) == sorted(PARTS)

        inputs = holdout()[0][:20]
        predicted = httpx.post(url + "/v1/predict", json={"inputs": inputs}).raise_for_status()
        submitted = httpx.post(url + "/v1/jobs", json={"inputs": inputs})
        assert submitted.status_code == 202 and submitted.json()["status"] == "queued"
        job = finished(url + submitted.headers["location"])
        assert (job["status"], job["kind"], job["runs"]) == ("succeeded", "predict", 1), job
        assert job["result"] == predicted.json()

        if shutil.which("curl"):  # the two lines printed for pasting, run as pasted
            example = "\n".join(banner.split("read it back")[1].splitlines()[1:3])
            pasted = subprocess.run(
                ["bash", "-c", example], capture_output=True, text=True, timeout=30, check=True
            )
            assert json.loads(pasted.stdout)["status"] in ("queued", "running", "succeeded")

        process.send_signal(signal.SIGTERM)
        assert process.wait(120) == 0
        for part, pid in pids.items():  # each ran in its own session: nothing of it is left
            assert session_pids(pid) == [], f"{part} left {session_pids(pid)}"
        assert "Redis is now ready to exit" in Path(logs["redis"]).read_text()
        assert "Warm shutdown" in Path(logs["job worker"]).read_text()
