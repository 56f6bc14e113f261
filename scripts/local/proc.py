"""CPU time of processes from /proc/<pid>/stat (the tools' one parser of it)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses).

    Index 0 is the state (field 3 of proc(5)); OSError when the process is gone.
    """
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(fields: list[str]) -> float:
    """utime + stime (proc(5) fields 14 and 15) in seconds."""
    return (int(fields[11]) + int(fields[12])) / TICKS


def pids_cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of these processes; one that just exited counts nothing."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(stat_fields(pid))
        except OSError:
            continue
    return total


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group."""
    total = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[2]) == pgid:  # state, ppid, pgrp, ...
            total += cpu_seconds(fields)
    return total


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (a pool's workers); [] once it is gone.

    Every thread's list: a child forked by another thread than the main one is listed there.
    """
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(pids)


def session_pids(sid: int) -> list[int]:
    """Live processes of a session (what a process started with start_new_session left).

    Zombies are not counted: they run nothing, and a container's init may never reap them.
    """
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # state, ppid, pgrp, session, ...
            pids.append(int(entry.name))
    return sorted(pids)
