"""Shared fixtures: the repo's scripts importable, the default model present, live services."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from localrun import Cgroup  # noqa: E402

DEFAULT_MODEL = REPO / "models" / "default"


@pytest.fixture(scope="session", autouse=True)
def default_model() -> Path:
    if not (DEFAULT_MODEL / "model.json").exists():
        pytest.exit("the default model is missing: run `python scripts/train_default_model.py`", 2)
    return DEFAULT_MODEL


@pytest.fixture
def needs_cgroups() -> None:
    reason = Cgroup.unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def anyio_backend() -> str:
    # The service runs on asyncio (uvloop in production); async tests use anyio's plugin.
    return "asyncio"
