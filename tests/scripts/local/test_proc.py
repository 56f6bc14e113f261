"""scripts.local.proc, the one /proc/<pid>/stat parser, on this very process and its children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.local.proc import (
    child_pids,
    group_cpu_seconds,
    pids_cpu_seconds,
    session_pids,
    stat_fields,
)


def burn(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_stat_fields_survive_a_command_name_with_spaces_and_parens() -> None:
    # A child whose name (comm) is "a) b" proves the split is on the last ")".
    rename = "import sys; open('/proc/self/comm', 'w').write('a) b'); print(); sys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", rename], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()  # renamed
        assert Path(f"/proc/{child.pid}/comm").read_text() == "a) b\n"
        fields = stat_fields(child.pid)
        assert fields[0] in "RSD" and int(fields[1]) == os.getpid()
    finally:
        child.communicate(b"")


def test_cpu_seconds_grow_with_work() -> None:
    before = pids_cpu_seconds([os.getpid()])
    burn(0.2)
    assert pids_cpu_seconds([os.getpid()]) - before >= 0.15
    assert group_cpu_seconds(os.getpgid(0)) >= pids_cpu_seconds([os.getpid()]) - 0.05


def test_a_gone_process_counts_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pids_cpu_seconds([child.pid]) == 0.0
    with pytest.raises(OSError):
        stat_fields(child.pid)


def test_children_and_session_of_a_process_started_in_its_own_session() -> None:
    spawn = (
        "import subprocess, sys; p = subprocess.Popen(['sleep', '60']); print(p.pid, flush=True);"
        " sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", spawn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    ) as parent:
        try:
            assert parent.stdout is not None
            grandchild = int(parent.stdout.readline())
            assert child_pids(parent.pid) == [grandchild]
            assert session_pids(parent.pid) == sorted([parent.pid, grandchild])
        finally:
            os.killpg(parent.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while session_pids(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the orphaned grandchild dies once init reaps it
    assert session_pids(parent.pid) == []
    assert child_pids(parent.pid) == []
