"""Renders shared by the chart tests: the defaults and the everything-on values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import chart_tools as ct
import pytest


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return ct.render()


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    return ct.render(ct.values_file(ct.CHART_DIR / "ci" / "everything-values.yaml"))


@pytest.fixture(scope="module")
def live_service() -> Iterator[str]:
    """The real service under gunicorn on a loopback port, for the probe commands."""
    from scripts.local.service import run_service

    with run_service() as service:
        yield service.url
