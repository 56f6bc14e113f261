"""The lock files agree with pyproject: every direct pin is locked at its version, with hashes.

A full re-resolution needs the package index (`scripts/lock --check`); this test needs
nothing and catches the common slip, a pin changed in pyproject without `scripts/lock`.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from paths import REPO

LOCKS = REPO / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        if match := PIN.match(line.strip()):
            found[canonical(match.group(1))] = match.group(2)
    return found


def locked(name: str) -> dict[str, set[str]]:
    """Package -> every version the lock holds (markers may split one by Python version)."""
    out: dict[str, set[str]] = {}
    for line in (LOCKS / f"{name}.txt").read_text().splitlines():
        if match := PIN.match(line):
            out.setdefault(canonical(match.group(1)), set()).add(match.group(2))
    return out


PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
DEV_DIRECT = [d for d in EXTRAS["dev"] if not d.startswith("corebound")]
NEEDS = {
    "runtime": PROJECT["dependencies"],
    "loadtest": EXTRAS["loadtest"],
    "train": EXTRAS["train"],
    "dev": PROJECT["dependencies"] + EXTRAS["loadtest"] + EXTRAS["train"] + EXTRAS["tools"]
    + EXTRAS["convert"] + DEV_DIRECT,
    "checkov": (LOCKS / "checkov.in").read_text().splitlines(),
    "kserve": (LOCKS / "kserve.in").read_text().splitlines(),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_every_direct_pin_is_locked_at_its_version(name: str) -> None:
    lock = locked(name)
    wrong = {
        package: (version, sorted(lock.get(package, set())))
        for package, version in pins(NEEDS[name]).items()
        if lock.get(package) != {version}
    }
    assert not wrong, f"requirements/{name}.txt is stale (run scripts/lock): {wrong}"


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_every_locked_package_has_hashes(name: str) -> None:
    text = (LOCKS / f"{name}.txt").read_text()
    entries = re.split(r"\n(?=\S)", text.split("\n", 1)[1].strip())
    unhashed = [e.split()[0] for e in entries if "--hash=sha256:" not in e]
    assert entries and not unhashed, unhashed


def test_every_direct_dependency_is_pinned_exactly() -> None:
    direct = [*PROJECT["dependencies"], *(d for deps in EXTRAS.values() for d in deps)]
    loose = [d for d in direct if not d.startswith("corebound[") and not PIN.match(d)]
    assert not loose, loose
