"""Every tool runs its one documented way, `python -m scripts.<room>`, from the repository root."""

from __future__ import annotations

import subprocess
import sys

import pytest
from paths import REPO

ROOMS = {
    "capacity": [],
    "bench": [],
    "cluster_loadtest": [],
    "modelgen": ["train"],
    "convert": [],
    "local": ["loadgen"],
    "e2e": [],
    "release": [],
}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_room_runs_as_a_module_and_documents_itself(room: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"scripts.{room}", *ROOMS[room], "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and "--" in done.stdout


@pytest.mark.parametrize("room", ["modelgen", "local"])
def test_room_with_commands_names_them_when_given_none(room: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"scripts.{room}"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2 and f"python -m scripts.{room} {{" in done.stderr
