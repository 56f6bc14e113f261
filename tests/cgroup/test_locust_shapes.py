"""Real Locust, headless, against the real gunicorn under a 1-CPU CFS quota.

Locust runs as its own process with the Job's exact arguments (it patches with gevent, so
it is never imported here); the SLO listener must set its exit code to match the verdict.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import Service, run_service

REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).with_name("locust"))
SHORT_STEP = {"STEP_USERS": "4", "STEP_SECONDS": "3", "STEP_COUNT": "3", "SPAWN_RATE": "20"}
LOOSE_SLO = {"SLO_MAX_FAILURE_RATIO": "0.05", "SLO_P95_MS": "5000", "SLO_P99_MS": "10000"}


def locust_job(
    url: str, out: Path, env: dict[str, str], shape: str = "step"
) -> subprocess.CompletedProcess[str]:
    """The loadtest image's command, from the repo root (the image's workdir holds the same)."""
    cmd = [
        LOCUST, "-f", f"loadtests/locustfile.py,loadtests/shapes/{shape}.py",
        "--headless", "--csv", str(out / "locust"), "--html", str(out / "locust.html"),
    ]  # fmt: skip
    return subprocess.run(
        cmd,
        cwd=REPO,
        env={**os.environ, "LOCUST_HOST": url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def verdict(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("SLO ")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return lines[0]


def stats_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "locust_stats.csv").open(newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def one_cpu_service() -> Iterator[Service]:
    with run_service(cpu_quota=1.0) as svc:
        yield svc


def test_short_step_load_passes_a_loose_slo(one_cpu_service: Service, tmp_path: Path) -> None:
    proc = locust_job(one_cpu_service.url, tmp_path, {**SHORT_STEP, **LOOSE_SLO})
    line = verdict(proc)
    assert proc.returncode == 0, line
    assert line.startswith("SLO PASS: ") and "label accuracy=" in line
    rows = stats_rows(tmp_path)
    # All three weighted tasks ran (JSON v1, JSON v2, binary v2), every answer validated.
    assert (
        int(rows["/v1/predict"]["Request Count"])
        > int(rows["/v2/models/digits-mlp/infer"]["Request Count"])
        > 0
    )
    assert int(rows["/v2/models/digits-mlp/infer (binary)"]["Request Count"]) > 0
    assert rows["Aggregated"]["Failure Count"] == "0"
    assert (tmp_path / "locust_stats_history.csv").exists()
    assert "<html" in (tmp_path / "locust.html").read_text()[:2000].lower()


def test_impossible_slo_fails_with_exit_code_1(one_cpu_service: Service, tmp_path: Path) -> None:
    impossible = {"SLO_MAX_FAILURE_RATIO": "0", "SLO_P95_MS": "0.001", "SLO_P99_MS": "0.001"}
    proc = locust_job(one_cpu_service.url, tmp_path, {**SHORT_STEP, **impossible})
    line = verdict(proc)
    assert proc.returncode == 1, line
    assert line.startswith("SLO FAIL: ") and line.endswith("p95, p99")  # ms are impossible


@pytest.mark.parametrize(
    ("shape", "env"),
    [
        ("spike", {"SPIKE_BASE_USERS": "2", "SPIKE_PEAK_USERS": "12", "SPIKE_AT_SECONDS": "2",
                   "SPIKE_SECONDS": "2", "SPIKE_TOTAL_SECONDS": "6"}),
        ("constant", {"CONSTANT_USERS": "4", "CONSTANT_SECONDS": "4"}),
    ],
)  # fmt: skip
def test_other_shapes_end_by_themselves(
    one_cpu_service: Service, tmp_path: Path, shape: str, env: dict[str, str]
) -> None:
    proc = locust_job(one_cpu_service.url, tmp_path, {**env, **LOOSE_SLO}, shape)
    assert proc.returncode == 0, verdict(proc)
    assert int(stats_rows(tmp_path)["Aggregated"]["Request Count"]) > 0


def test_shed_requests_are_failures(tmp_path: Path) -> None:
    # A one-row queue sheds almost everything under 12 users: each 503 must count as failed.
    tiny_queue = {"MAX_QUEUE_ROWS": "1", "MAX_ROWS_PER_REQUEST": "1"}
    with run_service(env=tiny_queue, cpu_quota=1.0) as svc:
        proc = locust_job(svc.url, tmp_path, {**SHORT_STEP, **LOOSE_SLO})
    line = verdict(proc)
    assert proc.returncode == 1, line
    assert "missed: failure ratio" in line
    with (tmp_path / "locust_failures.csv").open(newline="") as f:
        errors = {row["Error"] for row in csv.DictReader(f)}
    assert any("shed: 503" in e for e in errors), errors
