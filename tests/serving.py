"""Test-side access to the real service runner (scripts/local) and the held-out digits."""

from __future__ import annotations

import json
from functools import cache

from paths import REPO

from scripts.local.cgroup import Cgroup
from scripts.local.net import free_port
from scripts.local.service import Service, run_service, start_expecting_failure, stop

__all__ = [
    "Cgroup",
    "Service",
    "free_port",
    "holdout",
    "run_service",
    "start_expecting_failure",
    "stop",
]


@cache
def holdout() -> tuple[list[list[int]], list[str]]:
    data = json.loads((REPO / "loadtests" / "data" / "digits_holdout.json").read_text())
    return data["inputs"], data["labels"]
