"""Shared fixtures, and the lanes: a test's lane is the directory it lives in.

    tests/live/     slow       real gunicorn, Locust, wrk or actionlint processes (seconds each)
    tests/cgroup/   slow,cgroup  a CFS quota or memory limit made here (root, writable cgroupfs)
    tests/e2e/      slow,container  images built and run with podman (minutes)
    tests/cluster/  cluster    a real Kubernetes cluster
    anywhere else   fast       in-process or short tools (service/, loadtests/, scripts/,
                               repo/, the chart tests); `scripts/test --fast` runs only these

Markers are added here from the path, never written in a test module, so a test cannot sit
in one lane and claim another.
"""

from __future__ import annotations

import pytest
from paths import DEFAULT_MODEL, TESTS

from scripts.local.cgroup import Cgroup

LANES: dict[str, tuple[str, ...]] = {
    "live": ("slow",),
    "cgroup": ("slow", "cgroup"),
    "e2e": ("slow", "container"),
    "cluster": ("cluster",),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cgroup_missing = Cgroup.unavailable_reason()
    for item in items:
        rel = item.path.relative_to(TESTS).parts
        for marker in LANES.get(rel[0], ()) if len(rel) > 1 else ():
            item.add_marker(marker)
        if cgroup_missing and item.get_closest_marker("cgroup"):
            item.add_marker(pytest.mark.skip(reason=cgroup_missing))


def pytest_report_header(config: pytest.Config) -> str | None:
    # Not a stop: only the tests that load the default model fail, and they say why.
    if not (DEFAULT_MODEL / "model.json").exists():
        return (
            "default model missing: tests that load it will fail (python -m scripts.modelgen train)"
        )
    return None


@pytest.fixture
def anyio_backend() -> str:
    # The service runs on asyncio (uvloop in production); async tests use anyio's plugin.
    return "asyncio"
