"""The chart's distributed Locust load test drives a real HPA on metrics-server's CPU figures.

`python -m scripts.cluster_loadtest` starts a run from the chart's CronJobs and records what
it saw (the recording replays through the same timeline the report is made from); a second
run is started with the NOTES' kubectl commands alone and read back the way they say.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.cluster_loadtest import timeline

from .commands import fenced_section, first, shell_commands
from .kube import REPO, Cluster

NAMESPACE = "autoscaling"
# maxReplicas set for this 2-core node (2 CPUs allocatable, 0.2 taken by the add-ons):
# 3 pods of 0.3 CPU, the master's 0.1 and 2 workers of 0.3, the clients a third of the load.
VALUES = [
    "--set", "resources.cpu=300m",
    "--set", "autoscaling.minReplicas=1", "--set", "autoscaling.maxReplicas=3",
    "--set", "loadtest.enabled=true", "--set", "loadtest.workers=2",
    "--set", "loadtest.cpu=300m", "--set", "loadtest.memoryMiB=256",
    "--set", "loadtest.master.cpu=100m", "--set", "loadtest.master.memoryMiB=192",
    "--set", "loadtest.stepSeconds=30", "--set", "loadtest.stepCount=5",
    # The last step offers 4x what one pod serves at the HPA target: a scale-up for sure.
    "--set", "loadtest.plan.loadFactor=4",
    # A loose SLO: this run is about the autoscaler; the latency bound is a sanity check.
    "--set", "loadtest.slo.p95Ms=5000", "--set", "loadtest.slo.p99Ms=10000",
]  # fmt: skip


@pytest.fixture(scope="module")
def notes(cluster: Cluster) -> Iterator[str]:
    installed = cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE), *VALUES, "--wait", "--timeout", "5m",
    )  # fmt: skip
    yield installed.stdout
    cluster.remove_namespace(NAMESPACE, "corebound", check=True)


def run_loadtest(cluster: Cluster, out: Path, *env: str) -> subprocess.CompletedProcess[str]:
    settings = [arg for pair in env for arg in ("--env", pair)]
    return subprocess.run(
        [sys.executable, "-m", "scripts.cluster_loadtest", "--release", "corebound",
         "--namespace", NAMESPACE, "--out", str(out), "--record", str(out / "events.json"),
         "--interval-s", "5", "--timeout-s", "900", *settings],
        cwd=REPO, env=cluster.env(), capture_output=True, text=True, timeout=1200,
    )  # fmt: skip


def job(cluster: Cluster, name: str) -> dict[str, Any]:
    found: dict[str, Any] = cluster.json("--namespace", NAMESPACE, "get", "job", name)
    return found


def ended_as(found: dict[str, Any]) -> str | None:
    condition = timeline.job_condition(found)
    return None if condition is None else str(condition["type"])


def test_distributed_step_load_scales_min_to_max_and_passes(
    cluster: Cluster, notes: str, tmp_path: Path
) -> None:
    run = run_loadtest(cluster, tmp_path)
    print(run.stdout[-6000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    events = json.loads((tmp_path / "events.json").read_text())["events"]
    tl = timeline.replay(events)
    assert tl.verdict.passed, tl.verdict
    # metrics-server's CPU reached the HPA, which went from its minimum to its maximum.
    assert any(r.cpu_percent is not None for r in tl.rows)
    assert tl.rows[0].hpa_current == 1
    assert max(r.hpa_desired or 0 for r in tl.rows) == 3
    assert max(r.pods_ready for r in tl.rows) == 3
    assert max(r.rps or 0 for r in tl.rows) > 0
    assert (tmp_path / "cluster-corebound.png").stat().st_size > 0
    summary = json.loads(tl.verdict_line)
    assert summary["slo"] == "PASS" and summary["requests"] > 0 and summary["failures"] == 0
    # Both workers ran to the end with their master.
    master = summary["run"]
    workers = job(cluster, f"{master}-workers")
    assert ended_as(workers) == "Complete" and workers["status"]["succeeded"] == 2
    cluster.assert_no_restarts(NAMESPACE)


def test_another_shape_with_kubectl_alone_read_back_as_documented(
    cluster: Cluster, notes: str
) -> None:
    """The NOTES' commands, run as written: a spike run with its own SLO, then its summary."""
    commands = shell_commands(notes)
    # The README gives the same run, in the default namespace.
    readme = shell_commands(fenced_section((REPO / "README.md").read_text(), "On Kubernetes"))
    in_notes = {c.replace(f"--namespace {NAMESPACE} ", "") for c in commands}
    runs = [c for c in readme if "job" in c or "loadtest-results" in c]
    assert len(runs) == 4 and set(runs) <= in_notes, (runs, in_notes)
    script = "\n".join([
        "set -euo pipefail",
        "RUN=spike-run",
        first(commands, r"create job --from=cronjob/\S+-loadtest-workers"),
        first(commands, r"set env --local"),
        first(commands, r"wait --for=condition=complete").replace("30m", "10m"),
        first(commands, r"get configmap \S+-loadtest-results"),
    ])  # fmt: skip
    env = {**cluster.env(), "PATH": f"{Path(cluster.kubectl_bin).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["run"] == "spike-run" and summary["shape"] == "spike"
    assert summary["slo"] == "PASS" and summary["requests"] > 0
    assert ended_as(job(cluster, "spike-run")) == "Complete"
    # The HTML report and the CSVs outlived the pods too.
    results = cluster.json("--namespace", NAMESPACE, "get", "configmap",
                           "corebound-loadtest-results")  # fmt: skip
    assert "stats.csv" in results["data"] and "report.html.gz" in results["binaryData"]


def test_an_impossible_slo_fails_the_master_job(
    cluster: Cluster, notes: str, tmp_path: Path
) -> None:
    run = run_loadtest(
        cluster, tmp_path, "LOAD_SHAPE=constant", "CONSTANT_USERS=10", "CONSTANT_SECONDS=20",
        "SLO_P95_MS=1", "SLO_P99_MS=1",
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    tl = timeline.replay(json.loads((tmp_path / "events.json").read_text())["events"])
    summary = json.loads(tl.verdict_line)
    assert summary["slo"] == "FAIL" and summary["shape"] == "constant"
    assert ended_as(job(cluster, summary["run"])) == "Failed"
