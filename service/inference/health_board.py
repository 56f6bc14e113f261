"""The pod's inference health, shared by its workers: a probe fails when ANY worker is stalled.

The kubelet's probe reaches whichever worker accepts its connection. A worker judging only
itself lets a hung sibling pass most probes, so failureThreshold failures in a row rarely
happen and the pod is not restarted while the sibling's requests time out. Each ready
worker (its event loop, every REPORT_INTERVAL_S) writes its inference thread's state to
`<board>/<pid>.json`; the worker answering a probe reads every file.

gunicorn's master makes the board directory before any worker forks (`create_board`, on
tmpfs when there is one: it survives a read-only root filesystem and never blocks on disk),
names it to the workers in HEALTH_BOARD_ENV, and deletes a dead worker's file (`forget`,
its child_exit hook) so a respawned worker's predecessor never fails the pod. Without a
board (one process: TestClient, plain uvicorn) each worker judges only itself.

Times are time.monotonic(): CLOCK_MONOTONIC on Linux, one clock for every process of the
machine, so workers compare each other's times and no wall-clock step fakes a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HEALTH_BOARD_ENV = "COREBOUND_HEALTH_BOARD"
REPORT_INTERVAL_S = 1.0
_SHM = Path("/dev/shm")

log = logging.getLogger("corebound")


@dataclass(frozen=True)
class Health:
    """One worker's inference thread as seen at `at` (monotonic seconds)."""

    pid: int
    at: float
    thread_alive: bool
    heartbeat: float  # the idle thread's last tick, or the end of its last call
    call_started: float | None  # the model call running at `at`, if any

    @property
    def call_age_s(self) -> float | None:
        return None if self.call_started is None else self.at - self.call_started

    @property
    def heartbeat_age_s(self) -> float:
        return self.at - self.heartbeat

    def stall(self, heartbeat_timeout_s: float, max_call_s: float) -> str | None:
        """Why the thread counts as stalled at `at` (None: alive). A call younger than
        `max_call_s` is busy, an older one hung; an idle thread ticks every second."""
        if not self.thread_alive:
            return "inference thread dead"
        call_age = self.call_age_s
        if call_age is not None:
            if call_age < max_call_s:
                return None
            return f"one model call running for {call_age:.1f} s (MAX_CALL_S={max_call_s:g})"
        if self.heartbeat_age_s < heartbeat_timeout_s:
            return None
        return (
            f"idle inference thread silent for {self.heartbeat_age_s:.1f} s"
            f" (HEARTBEAT_TIMEOUT_S={heartbeat_timeout_s:g})"
        )


@dataclass(frozen=True)
class Stalled:
    pid: int
    reason: str


class HealthBoard:
    """One directory of `<pid>.json` reports, each a Health plus its process's start time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._own_start = process_start(os.getpid())
        self._failing = False  # a failed write is logged once, not every second

    @classmethod
    def from_environment(cls) -> HealthBoard | None:
        directory = os.environ.get(HEALTH_BOARD_ENV)
        return cls(Path(directory)) if directory and Path(directory).is_dir() else None

    def publish(self, health: Health) -> None:
        # Written aside, then renamed: a reader sees the last report or this one, never half.
        report = {**asdict(health), "start": self._own_start}
        staging = self.directory / f"{health.pid}.json.tmp"
        try:
            staging.write_text(json.dumps(report))
            staging.replace(self.directory / f"{health.pid}.json")
        except OSError as exc:
            if not self._failing:
                # The siblings then see this worker silent and fail the pod's liveness.
                log.warning("health board: cannot write %s: %s", staging, exc)
            self._failing = True
        else:
            self._failing = False

    def withdraw(self, pid: int) -> None:
        forget(self.directory, pid)

    def others(self, own_pid: int) -> list[Health]:
        """Every other live worker's last report."""
        found = []
        try:
            names = [n for n in os.listdir(self.directory) if n.endswith(".json")]
        except OSError:  # the master is gone, and with it the board
            names = []
        for name in names:
            try:
                with open(os.path.join(self.directory, name), "rb") as report_file:
                    report = json.loads(report_file.read())
            except (OSError, ValueError):  # deleted meanwhile (child_exit)
                continue
            pid = report.pop("pid", None)
            start = report.pop("start", None)
            if pid == own_pid or not isinstance(pid, int) or not _same_process(pid, start):
                continue
            try:
                found.append(Health(pid=pid, **report))
            except TypeError:  # another version's report: not ours to judge
                continue
        return found


def pod_stalls(
    own: Health, board: HealthBoard | None, heartbeat_timeout_s: float, max_call_s: float
) -> tuple[list[int], list[Stalled]]:
    """The workers judged (this one first) and the stalled ones.

    This worker is judged live; another by its last report, whose ages are what was certain
    when it was written (at most REPORT_INTERVAL_S behind) and which must itself be younger
    than HEARTBEAT_TIMEOUT_S: a worker whose event loop stopped reporting is stuck too.
    """
    stalled = []
    if (reason := own.stall(heartbeat_timeout_s, max_call_s)) is not None:
        stalled.append(Stalled(own.pid, reason))
    others = board.others(own.pid) if board is not None else []
    for health in others:
        silent = own.at - health.at
        if silent >= heartbeat_timeout_s:
            reason = (
                f"no health report for {silent:.1f} s: its event loop is stuck"
                f" (HEARTBEAT_TIMEOUT_S={heartbeat_timeout_s:g})"
            )
        else:
            reason = health.stall(heartbeat_timeout_s, max_call_s)
        if reason is not None:
            stalled.append(Stalled(health.pid, reason))
    return [own.pid, *sorted(h.pid for h in others)], stalled


async def publish_while_serving(board: HealthBoard, health: Callable[[], Health]) -> None:
    """This worker's reports until cancelled; from the event loop, so they also prove it runs."""
    while True:
        board.publish(health())
        await asyncio.sleep(REPORT_INTERVAL_S)


# --- gunicorn's master (service/gunicorn_conf.py) ---------------------------------------------


def create_board() -> Path:
    """A fresh board for this master's workers, named to them in the environment."""
    parent = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK) else None
    directory = Path(tempfile.mkdtemp(prefix="corebound-health-", dir=parent))
    os.environ[HEALTH_BOARD_ENV] = str(directory)
    return directory


def forget(directory: Path | str, pid: int) -> None:
    """Delete a worker's report (its own on shutdown, the master's once it died)."""
    for name in (f"{pid}.json", f"{pid}.json.tmp"):
        with contextlib.suppress(FileNotFoundError):
            (Path(directory) / name).unlink()


def remove_board(directory: Path | str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


# --- processes ----------------------------------------------------------------------------------


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot; proc(5) field 22), None when gone or
    without /proc: a pid reused by a later process shows another start."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[19].decode()


def _same_process(pid: int, start: object) -> bool:
    """The report's process still exists: not dead (a report child_exit has yet to delete)
    and not a later process that reused its pid."""
    if start is not None:
        return process_start(pid) == start
    try:  # no /proc where it was written: existence is all that can be checked
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
