"""Containers of the rig: the service and loadtest images started as the chart runs them."""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts.e2e.podman import ULIMITS, podman
from scripts.local.net import poll_ready
from service import __version__
from service.sizing.cgroups import CgroupStats

REPO = Path(__file__).resolve().parents[2]
SERVICE_IMAGE = f"localhost/corebound:{__version__}"
LOADTEST_IMAGE = f"localhost/corebound-loadtest:{__version__}"
USER = "10001:10001"

PREFIX = "corebound-e2e"  # every container this script starts is named so; it removes only those

# The emptyDirs the chart mounts over a read-only root: /tmp and the metrics directory.
# runc gives each tmpfs the mode of the image's directory (1777 for both), so the image's
# user writes there without owning them, as in an emptyDir.
SERVICE_TMPFS = (
    "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",
    "--tmpfs", "/run/prometheus:rw,nosuid,nodev,size=16m",
)  # fmt: skip

READY_TIMEOUT_S = 120


def http_json(url: str, body: object | None = None, timeout: float = 30) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@contextmanager
def sampling(cg: CgroupStats, every_s: float = 0.5) -> Iterator[dict[str, float]]:
    """Samples memory while the body runs; yields a dict filled with the highest usage seen."""
    seen = {"max_usage_mib": 0.0}
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                usage = cg.memory()["usage_mib"]
            except OSError:  # the container is gone
                return
            seen["max_usage_mib"] = max(seen["max_usage_mib"], usage)
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def inspect(name: str) -> dict[str, Any]:
    return json.loads(podman("inspect", "--type", "container", name).stdout)[0]


def remove(name: str, grace_s: int = 5) -> None:
    podman("rm", "--force", "--time", str(grace_s), name, check=False)


def evict_fadvise(path: Path) -> None:
    """Drops a file's clean pages from the page cache (fsync first: dirty pages stay)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict_page_cache(image: str) -> None:
    """Evicts the image's files from the page cache before a run.

    A page is charged to the cgroup that first reads it: files read by the build or by an
    earlier container would be free for the next one. Evicted, the container pays for its
    shared libraries and weights as a pod on a fresh node does.
    """
    root = Path(podman("image", "mount", image).stdout.strip())
    try:
        for top in ("opt/venv", "app"):
            for path in (root / top).rglob("*"):
                if path.is_file() and not path.is_symlink():
                    evict_fadvise(path)
    finally:
        podman("image", "unmount", image, check=False)


def start_service(
    name: str, port: int, cpus: float, memory_mib: int, *, env: dict[str, str] | None = None,
    volumes: tuple[str, ...] = (), image: str = SERVICE_IMAGE,
) -> dict[str, Any]:  # fmt: skip
    """Runs the service image (or one built on it) as its own user and command, read-only."""
    remove(name)
    evict_page_cache(image)
    args = [
        "run", "--detach", "--name", name,
        "--cpus", f"{cpus:g}",
        # swap equal to memory: no swap, as in a pod; the limit is the limit.
        "--memory", f"{memory_mib}m", "--memory-swap", f"{memory_mib}m",
        # Read-only root; podman's own tmpfs set is off so only the chart's mounts exist.
        "--read-only", "--read-only-tmpfs=false", *SERVICE_TMPFS,
        # Published on loopback only: nothing outside this machine can reach it.
        "--publish", f"127.0.0.1:{port}:8000",
        *ULIMITS,
    ]  # fmt: skip
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    for volume in volumes:
        args += ["--volume", volume]
    podman(*args, image)
    base = f"http://127.0.0.1:{port}"

    def gone() -> str | None:
        state = inspect(name)["State"]
        return None if state["Running"] else f"{name} exited ({state['ExitCode']})"

    def tail() -> str:
        logs = podman("logs", "--tail", "40", name, check=False)
        return logs.stdout + logs.stderr

    seconds = poll_ready(base, gone=gone, tail=tail, timeout_s=READY_TIMEOUT_S, interval_s=0.5)
    return {"base": base, "pid": inspect(name)["State"]["Pid"], "ready_s": seconds}


def run_loadtest(name: str, port: int, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """The loadtest image with its own ENTRYPOINT and CMD, as the chart's Job runs it.

    Host network to reach the service's loopback port; a host directory stands in for the
    Job's /tmp emptyDir so the CSV survives the container.
    """
    remove(name)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-locust-") as tmp:
        os.chmod(tmp, 0o1777)  # the image's user writes there, like an emptyDir
        args = [
            "run", "--rm", "--name", name, "--network", "host",
            "--read-only", "--read-only-tmpfs=false", "--volume", f"{tmp}:/tmp:rw",
            "--env", f"LOCUST_HOST=http://127.0.0.1:{port}", *ULIMITS,
        ]  # fmt: skip
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        started = time.monotonic()
        done = podman(*args, LOADTEST_IMAGE, check=False, timeout=timeout_s)
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        verdict = next(
            (
                ln.strip()
                for ln in reversed(output.splitlines())
                if "SLO PASS" in ln or "SLO FAIL" in ln
            ),
            "",
        )
        result: dict[str, Any] = {
            "exit_code": done.returncode,
            "seconds": round(seconds, 1),
            "verdict": verdict[verdict.find("SLO") :] if verdict else "",
            "output_tail": output.splitlines()[-15:],
        }
        stats = Path(tmp) / "locust_stats.csv"
        if stats.exists():
            with stats.open() as f:
                rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
            if rows:
                row = rows[0]
                result.update(
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    rps=round(float(row["Requests/s"]), 1),
                    p50_ms=_num(row.get("50%")),
                    p95_ms=_num(row.get("95%")),
                    p99_ms=_num(row.get("99%")),
                )
        result["html_report"] = (Path(tmp) / "locust.html").exists()
    return result


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def state_after(name: str, cg: CgroupStats, workers: int) -> dict[str, Any]:
    """Still running, not OOM-killed, not restarted, and each worker booted only once."""
    info = inspect(name)
    logs = podman("logs", name, check=False)
    text = logs.stdout + logs.stderr
    memory = cg.memory()
    return {
        "running": info["State"]["Running"],
        "oom_killed": info["State"]["OOMKilled"],
        "restart_count": info.get("RestartCount", 0),
        "cgroup_oom_kills": memory["oom_kills"],
        "worker_boots": text.count("Booting worker"),
        "expected_worker_boots": workers,
        "worker_errors": [
            ln for ln in text.splitlines() if "WORKER TIMEOUT" in ln or "was sent SIG" in ln
        ],
    }


def uids(cg: CgroupStats) -> set[int]:
    found: set[int] = set()
    for pid in cg.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid_line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
        found.update(int(x) for x in uid_line.split()[1:])
    return found


def stop(name: str) -> dict[str, Any]:
    """SIGTERM and wait: gunicorn drains and exits 0 well within the grace period."""
    started = time.monotonic()
    podman("stop", "--time", "40", name, check=False, timeout=90)
    state = inspect(name)["State"]
    return {"exit_code": state["ExitCode"], "stop_s": round(time.monotonic() - started, 1)}
