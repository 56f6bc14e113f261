"""The house rules of the tree, checked: small files, imports by package, every room a package."""

from __future__ import annotations

import re
import subprocess

import pytest
from paths import REPO

MAX_LINES = 300


def tracked_python() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [f for f in out if (REPO / f).exists()]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    files = tracked_python()
    if not files:
        pytest.skip("not a git checkout")
    return {f: (REPO / f).read_text() for f in files}


def test_no_python_file_is_over_300_lines(sources: dict[str, str]) -> None:
    long = {f: text.count("\n") for f, text in sources.items() if text.count("\n") > MAX_LINES}
    assert not long, long


def test_nothing_edits_sys_path_or_loads_a_file_by_path(sources: dict[str, str]) -> None:
    # Split literals: this file must not match its own pattern.
    pattern = re.compile(r"sys\.path\.(insert|append)|sys\.path\[|spec_from_" "file_location")
    found = [f for f, text in sources.items() if pattern.search(text)]
    assert not found, found


def test_every_room_is_a_package_with_a_main() -> None:
    rooms = [d for d in (REPO / "scripts").iterdir() if d.is_dir() and (d / "__init__.py").exists()]
    names = {d.name for d in rooms}
    assert {"capacity", "bench", "cluster_loadtest", "modelgen", "convert", "local", "e2e"} <= names
    assert all((d / "__main__.py").exists() for d in rooms)
    assert not list((REPO / "scripts").glob("*.py")) or {
        p.name for p in (REPO / "scripts").glob("*.py")
    } <= {"__init__.py"}
