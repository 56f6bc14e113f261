"""Run Locust headless as its own process (it patches with gevent) and read its CSV totals."""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = "loadtests/locustfile.py"


@dataclass(frozen=True)
class LocustResult:
    exit_code: int
    output: str
    totals: dict[str, str]  # the "Aggregated" row of <prefix>_stats.csv
    wall_s: float
    client_cores: float  # Locust's CPU seconds per wall second

    @property
    def verdict(self) -> str:
        lines = [ln for ln in self.output.splitlines() if ln.startswith(("SLO PASS", "SLO FAIL"))]
        return lines[-1] if lines else ""

    def number(self, column: str) -> float:
        value = self.totals.get(column, "")
        return float(value) if value not in ("", "N/A") else 0.0


def run(
    host: str, shape: str, env: dict[str, str], csv_prefix: Path, timeout_s: float = 300
) -> LocustResult:
    """`locust -f loadtests/locustfile.py,<shape> --headless` from the repo root, as the Job."""
    cmd = [
        sys.executable, "-m", "locust",
        "-f", f"{LOCUSTFILE},{shape}",
        "--headless", "--only-summary",
        "--csv", str(csv_prefix), "--html", f"{csv_prefix}.html",
    ]  # fmt: skip
    full_env = {**os.environ, "LOCUST_HOST": host, "PYTHONUNBUFFERED": "1", **env}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return LocustResult(
        exit_code=proc.returncode,
        output=proc.stdout + proc.stderr,
        totals=read_totals(Path(f"{csv_prefix}_stats.csv")),
        wall_s=wall,
        client_cores=cpu / wall if wall else 0.0,
    )


def read_totals(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                return row
    return {}
