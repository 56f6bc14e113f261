"""Test-side access to the real service runner (scripts/localrun.py) and the held-out digits."""

from __future__ import annotations

import json
from functools import cache

from conftest import REPO
from localrun import Cgroup, Service, free_port, run_service, stop

__all__ = ["Cgroup", "Service", "free_port", "holdout", "run_service", "stop"]


@cache
def holdout() -> tuple[list[list[int]], list[str]]:
    data = json.loads((REPO / "loadtests" / "data" / "digits_holdout.json").read_text())
    return data["inputs"], data["labels"]
