"""service/inference/health_board.py: the reports every worker writes and any worker judges.

Times are made up around one `NOW`; the processes are real (this one and its parent), since
a report counts only while its process runs as the one that wrote it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.inference import health_board
from service.inference.health_board import (
    HEALTH_BOARD_ENV,
    Health,
    HealthBoard,
    create_board,
    forget,
    pod_stalls,
    process_start,
    remove_board,
)

NOW = 5000.0
HEARTBEAT_S = 30.0
MAX_CALL_S = 3.0


def health(pid: int, *, at: float = NOW, alive: bool = True, idle_s: float = 0.5,
           call_s: float | None = None) -> Health:  # fmt: skip
    """A thread idle for `idle_s`, or `call_s` into a model call, as of `at`."""
    return Health(pid, at, alive, at - idle_s, None if call_s is None else at - call_s)


def write_report(board: Path, report: Health, start: object = "mine") -> None:
    """A sibling's report as its worker writes it; `start` "mine": its process's real start."""
    start = process_start(report.pid) if start == "mine" else start
    record = {**report.__dict__, "start": start}
    (board / f"{report.pid}.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (health(1, idle_s=29.9), None),
        (health(1, call_s=2.9, idle_s=100), None),  # busy: a call's heartbeat does not count
        (health(1, call_s=3.0), "one model call running for 3.0 s (MAX_CALL_S=3)"),
        (health(1, idle_s=30), "idle inference thread silent for 30.0 s (HEARTBEAT_TIMEOUT_S=30)"),
        (health(1, alive=False), "inference thread dead"),
    ],
)
def test_a_thread_is_stalled_when_dead_hung_in_a_call_or_silent_while_idle(
    state: Health, reason: str | None
) -> None:
    assert state.stall(HEARTBEAT_S, MAX_CALL_S) == reason


def test_a_published_report_is_read_back_by_a_sibling(tmp_path: Path) -> None:
    parent = os.getppid()
    HealthBoard(tmp_path).publish(health(os.getpid(), call_s=1.0))
    write_report(tmp_path, health(parent, at=NOW - 0.5))

    by_parent = HealthBoard(tmp_path).others(parent)
    by_me = HealthBoard(tmp_path).others(os.getpid())

    assert by_parent == [health(os.getpid(), call_s=1.0)]
    assert by_me == [health(parent, at=NOW - 0.5)]  # its own report: judged live, not read
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{os.getpid()}.json", f"{parent}.json"]
    )  # written aside, then renamed: no staging file left


def test_a_report_of_a_dead_or_reused_pid_is_not_a_worker(tmp_path: Path) -> None:
    parent = os.getppid()
    write_report(tmp_path, health(parent, call_s=60), start="another process's start")
    write_report(tmp_path, health(2**22 + 1, call_s=60), start="12345")  # beyond pid_max
    (tmp_path / "garbage.json").write_text("{not json")

    assert HealthBoard(tmp_path).others(os.getpid()) == []


def test_the_pod_stalls_when_any_worker_does_and_names_it(tmp_path: Path) -> None:
    parent = os.getppid()
    board = HealthBoard(tmp_path)
    me = health(os.getpid())
    write_report(tmp_path, health(parent, at=NOW - 0.4, call_s=4.2))

    workers, stalled = pod_stalls(me, board, HEARTBEAT_S, MAX_CALL_S)

    assert workers == [os.getpid(), parent]
    assert [(s.pid, s.reason) for s in stalled] == [
        (parent, "one model call running for 4.2 s (MAX_CALL_S=3)")
    ]


def test_a_worker_whose_reports_stopped_is_stalled(tmp_path: Path) -> None:
    parent = os.getppid()
    write_report(tmp_path, health(parent, at=NOW - HEARTBEAT_S))  # healthy, 30 s ago

    _, stalled = pod_stalls(health(os.getpid()), HealthBoard(tmp_path), HEARTBEAT_S, MAX_CALL_S)

    assert [s.pid for s in stalled] == [parent]
    assert stalled[0].reason.startswith("no health report for 30.0 s: its event loop is stuck")


def test_without_a_board_a_worker_judges_only_itself() -> None:
    me = health(os.getpid(), alive=False)

    assert pod_stalls(me, None, HEARTBEAT_S, MAX_CALL_S)[0] == [os.getpid()]
    assert pod_stalls(me, None, HEARTBEAT_S, MAX_CALL_S)[1][0].reason == "inference thread dead"


def test_the_master_makes_names_cleans_and_removes_the_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health_board, "_SHM", tmp_path)  # where tmpfs would be
    monkeypatch.delenv(HEALTH_BOARD_ENV, raising=False)

    board = create_board()
    HealthBoard(board).publish(health(4242))
    (board / "4242.json.tmp").write_text("a write the SIGKILL cut short")
    forget(board, 4242)
    emptied = list(board.iterdir())
    remove_board(board)

    assert board.parent == tmp_path and os.environ[HEALTH_BOARD_ENV] == str(board)
    assert emptied == [] and not board.exists()


def test_a_board_named_but_missing_is_no_board(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEALTH_BOARD_ENV, "/nonexistent/corebound-health")

    assert HealthBoard.from_environment() is None
