"""Forked workers inside a throw-away memory cgroup, and what they hold (bench onnx-memory).

Each worker is forked from this process as gunicorn forks its workers, moves itself into the
cgroup, waits until all are ready, opens its session at the same moment as the others, runs
one batch (which pages every weight in) and reports. The cgroup then holds exactly what the
workers made or faulted in: the model files are dropped from the page cache first, so their
pages are charged to the cgroup that reads them, as in a pod.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scripts.bench.onnx_models import open_route
from scripts.local.cgroup import Cgroup

MIB_KB = 1024
ROWS = 8
_alive: list[Any] = []  # a worker's session lives until the parent has measured it


def rollup(pid: int | str = "self") -> dict[str, float]:
    """/proc/<pid>/smaps_rollup in MiB, with USS (private clean + private dirty)."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, kb, *_ = line.split()
        values[name.rstrip(":")] = int(kb) / MIB_KB
    values["Uss"] = values["Private_Clean"] + values["Private_Dirty"]
    return values


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / MIB_KB
    return float("nan")


def evict(paths: list[Path]) -> None:
    """Drop these files (or every file under these folders) from the page cache."""
    for path in paths:
        for f in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)  # written pages must be clean to be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _child(work: Callable[[], dict[str, Any]], cgroup: Cgroup, go: int, report: int) -> None:
    """In the forked child: enter the cgroup, say so, wait for go, work, report, wait, exit.
    Never returns: a forked child must not run on into its parent's code."""
    code = 1
    try:
        entered: OSError | None = None
        try:
            cgroup.enter()
        except OSError as exc:
            entered = exc
        os.write(report, b"{}\n")  # the parent waits for one line per child, entered or not
        os.read(go, 1)
        if entered is not None:
            raise entered
        result, code = work(), 0
    except Exception as exc:  # the parent raises it with the others
        result = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        result["pid"] = os.getpid()
        os.write(report, (json.dumps(result) + "\n").encode())
        os.read(go, 1)
    finally:
        os._exit(code)


class _Lines:
    """Lines from the workers' pipe, failing fast when one dies first (the OOM killer's
    victim never writes one) and at a deadline."""

    def __init__(self, fd: int, pids: list[int], deadline: float) -> None:
        self.fd, self.pids, self.deadline, self.buffer = fd, pids, deadline, b""
        self.reaped: set[int] = set()

    def next(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            if time.monotonic() > self.deadline:
                raise TimeoutError("a worker never reported")
            if select.select([self.fd], [], [], 0.1)[0]:
                self.buffer += os.read(self.fd, 1 << 16)
                continue
            for pid in self.pids:
                if pid not in self.reaped and os.waitpid(pid, os.WNOHANG)[0]:
                    self.reaped.add(pid)
                    raise ChildProcessError(f"worker {pid} died before it reported")
        line, self.buffer = self.buffer.split(b"\n", 1)
        found: dict[str, Any] = json.loads(line)
        return found


def in_cgroup(
    works: list[Callable[[], dict[str, Any]]],
    files: list[Path],
    memory_mib: int | None = None,
    timeout_s: float = 300,
) -> dict[str, Any]:
    """Run each work in its own forked child inside one new memory cgroup, all at once.

    Returns each child's report plus, read while all of them are alive, its smaps_rollup and
    the cgroup's memory figures (peak: memory.max_usage_in_bytes). With `memory_mib`, the
    cgroup's limit; a worker killed for it raises, with the cgroup's OOM kill count.
    """
    evict(files)
    cgroup = Cgroup(memory_mib=memory_mib).create()
    go_read, go_write = os.pipe()
    report_read, report_write = os.pipe()
    pids: list[int] = []
    results: list[dict[str, Any]] = []
    reports = _Lines(report_read, pids, time.monotonic() + timeout_s)
    try:
        for work in works:
            pid = os.fork()
            if pid == 0:
                _child(work, cgroup, go_read, report_write)
            pids.append(pid)
        for _ in pids:
            reports.next()  # entered the cgroup
        os.write(go_write, b"g" * len(pids))
        try:
            results = [reports.next() for _ in pids]
        except (TimeoutError, ChildProcessError) as exc:
            kills = cgroup.stats().memory()["oom_kills"]
            raise RuntimeError(f"{exc}; OOM kills in the cgroup: {kills}") from None
        for result in results:
            result["smaps"] = {k: round(v, 1) for k, v in rollup(result["pid"]).items()}
        memory = {k: round(v, 1) for k, v in cgroup.stats().memory().items()}
    finally:
        os.write(go_write, b"x" * len(pids))
        for pid in set(pids) - reports.reaped:
            if not results:  # failed before every worker reported: none may be waiting
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for fd in (go_read, go_write, report_read, report_write):
            os.close(fd)
        cgroup.remove()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("; ".join(errors))
    return {"workers": results, "cgroup": memory}


def session_work(
    route: str,
    model: Path,
    threads: int,
    packed: bool,
    input_dim: int,
    level: str = "",
    trim: bool = True,
) -> Callable[[], dict[str, Any]]:
    """A worker that opens a session of this route (or none: route "none") and runs once."""

    def work() -> dict[str, Any]:
        before = rollup()
        started = time.perf_counter()
        session = None
        if route != "none":
            session = open_route(route, model, threads, packed, level, trim)
            _alive.append(session)
        load_s = time.perf_counter() - started
        if session is not None:
            rows = np.ones((ROWS, input_dim), np.float32)
            session.run(None, {session.get_inputs()[0].name: rows})
        after = rollup()
        return {
            "load_s": round(load_s, 3),
            "base_uss_mib": round(before["Uss"], 1),
            "session_uss_mib": round(after["Uss"] - before["Uss"], 1),
            "session_anon_mib": round(after["Pss_Anon"] - before["Pss_Anon"], 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "session": session is not None,
        }

    return work


def prepare_work(prepare: Callable[[], Path]) -> Callable[[], dict[str, Any]]:
    """A child that makes a route's prepared files: its time and peaks (its own and, for a
    conversion run in a process of its own, that process's)."""

    def work() -> dict[str, Any]:
        base = rollup()["Rss"]
        started = time.perf_counter()
        path = prepare()
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / MIB_KB
        return {
            "path": str(path),
            "seconds": round(time.perf_counter() - started, 2),
            "self_peak_mib": round(peak_rss_mib() - base, 1),
            "converter_peak_rss_mib": round(children, 1),
        }

    return work
