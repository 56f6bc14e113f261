"""The pinning benchmark runs end to end: real gunicorn in a real cgroup, wrk, a neighbour in a
cgroup of its own; it writes its report. No timed assertions: the numbers are the report's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from paths import REPO


def test_pinning_benchmark_smoke(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "wrk is not installed (scripts/setup --system)"
    cmd = [sys.executable, "-m", "scripts.bench", "pinning", "--duration", "1", "--warmup", "0",
           "--rounds", "1", "--concurrency", "8", "--out", str(tmp_path)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300, cwd=REPO)
    result = json.loads((tmp_path / "pinning.json").read_text())
    mask = sorted(os.sched_getaffinity(0))
    variants = {v["variant"]: v for v in result["variants"]}
    assert set(variants) == {
        "unpinned",
        "pinned",
        "unpinned + neighbour",
        "pinned + neighbour",
    }
    for variant in variants.values():
        assert variant["rps"] > 0 and variant["errors"] == 0
        assert len(variant["worker_cores"]) == len(mask)  # one worker per core of the mask
    # Pinned: every worker (all its threads) on one core, no two on the same one.
    pinned = variants["pinned"]["worker_cores"]
    assert sorted(int(c) for c in pinned) == mask
    unpinned = variants["unpinned"]["worker_cores"]
    assert all(len(cores) > 1 for cores in unpinned) or len(mask) == 1
    assert {c["neighbour"] for c in result["comparisons"]} == {False, True}
    assert isinstance(result["decision"]["pin"], bool)
    text = (tmp_path / "pinning.md").read_text()
    assert "| pinned + neighbour |" in text and "## Decision" in text
