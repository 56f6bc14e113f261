"""The cluster's processes: started in their own session, recorded by PID, stopped by PID.

A PID file holds the PID and the process's start time (from /proc/<pid>/stat), so a PID
reused by an unrelated process after a reboot or a killed session is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.local.proc import stat_fields

from .layout import Layout


def _start_ticks(pid: int) -> str | None:
    try:
        return stat_fields(pid)[19]  # field 22 of proc(5), starttime
    except OSError:
        return None


def _state(pid: int) -> str | None:
    try:
        return stat_fields(pid)[0]
    except OSError:
        return None


def start(layout: Layout, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Starts argv detached (own session: a Ctrl-C of `up` does not kill the cluster)."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    with (layout.logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    (layout.pids / f"{name}.pid").write_text(f"{proc.pid} {_start_ticks(proc.pid)}\n")
    return proc.pid


def running(layout: Layout, name: str) -> int | None:
    """The recorded PID when that very process is still alive, else None."""
    try:
        pid_text, ticks = (layout.pids / f"{name}.pid").read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    state = _state(pid)
    if state is None or state == "Z" or _start_ticks(pid) != ticks:
        return None
    return pid


def current(pid: int, argv: Sequence[str]) -> bool:
    """Whether the process runs argv as it would be started now.

    The same command line, and the very file now at argv[0]'s path: a rebuild replaces the
    file, and the kernel's /proc/<pid>/exe still names the one the process was started from.
    Reading another user's process needs root (PermissionError otherwise).
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        runs = os.stat(f"/proc/{pid}/exe")
    except FileNotFoundError:
        return False  # exited meanwhile
    if [os.fsdecode(arg) for arg in cmdline] != list(argv):
        return False
    path = shutil.which(argv[0])
    if path is None:
        return False  # the binary is gone: nothing current to run
    now = os.stat(path)
    return (runs.st_dev, runs.st_ino) == (now.st_dev, now.st_ino)


def stop(layout: Layout, name: str, grace_s: float = 15) -> bool:
    """SIGTERM, then SIGKILL after grace_s; True when a live process was stopped."""
    pid = running(layout, name)
    (layout.pids / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if _state(pid) in (None, "Z"):
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    # Not our child when an earlier `up` started it: init reaps it then.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(layout: Layout, name: str, lines: int = 25) -> str:
    path = layout.logs / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
