"""The benchmark runs end to end: real gunicorn, wrk, the /healthz prober; no timed assertions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from paths import REPO


def test_benchmark_smoke(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "wrk is not installed (scripts/setup --system)"
    cmd = [
        sys.executable,
        "-m",
        "scripts.bench",
        "--concurrency",
        "1",
        "--duration",
        "1",
        "--warmup",
        "1",
        "--patterns",
        "corebound,control",
        "--no-compute",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(cmd, check=True, timeout=300, cwd=REPO)
    result = json.loads((tmp_path / "benchmark.json").read_text())
    rows = {row["pattern"]: row for row in result["rows"]}
    assert set(rows) == {"corebound", "control"}
    for row in rows.values():
        assert row["concurrency"] == 1
        assert row["rps"] > 0
        assert row["errors"] == 0
        assert row["healthz_probes"] > 0
    assert "| corebound (defaults) | 1 |" in (tmp_path / "benchmark.md").read_text()
