"""The chart's on-demand Locust test drives a real HPA on metrics-server's CPU figures.

`python -m scripts.cluster_loadtest` runs it as a user would and records what it saw; the
recording replays through the same timeline the report is made from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests import slo
from scripts.cluster_loadtest import timeline

from .kube import CHART, REPO, Cluster

NAMESPACE = "autoscaling"
# Pods of half a core, 1 to 3 of them: with the Locust pod and the add-ons, a 2-core node.
VALUES = [
    "--set", "resources.cpu=500m",
    "--set", "autoscaling.minReplicas=1", "--set", "autoscaling.maxReplicas=3",
    "--set", "loadtest.enabled=true", "--set", "loadtest.cpu=300m",
    "--set", "loadtest.memoryMiB=256", "--set", "loadtest.stepSeconds=30",
    "--set", "loadtest.stepCount=5",
    # The last step offers 4x what one pod serves at the HPA target: a scale-up for sure.
    "--set", "loadtest.plan.loadFactor=4",
    # A loose SLO: this run is about the autoscaler; the latency bound is a sanity check.
    "--set", "loadtest.slo.p95Ms=5000", "--set", "loadtest.slo.p99Ms=10000",
]  # fmt: skip


@pytest.fixture(scope="module")
def release(cluster: Cluster) -> Iterator[None]:
    cluster.helm(
        "install", "corebound", str(CHART), "--namespace", NAMESPACE, "--create-namespace",
        *cluster.image_values(), *VALUES, "--wait", "--timeout", "5m",
    )  # fmt: skip
    yield
    cluster.helm("uninstall", "corebound", "--namespace", NAMESPACE, "--wait")
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=true")


def run_loadtest(cluster: Cluster, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cluster_loadtest", "--release", "corebound",
         "--namespace", NAMESPACE, "--helm", cluster.helm_bin, "--out", str(out),
         "--record", str(out / "events.json"), "--interval-s", "5", "--timeout-s", "900"],
        cwd=REPO, env=cluster.env(), capture_output=True, text=True, timeout=1200,
    )  # fmt: skip


def test_step_load_scales_the_deployment_and_holds_a_loose_slo(
    cluster: Cluster, release: None, tmp_path: Path
) -> None:
    run = run_loadtest(cluster, tmp_path)
    print(run.stdout[-6000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    events = json.loads((tmp_path / "events.json").read_text())["events"]
    tl = timeline.replay(events)
    assert tl.verdict.passed, tl.verdict
    # metrics-server's CPU reached the HPA, which asked for more pods, which became ready.
    assert any(r.cpu_percent is not None for r in tl.rows)
    assert max(r.hpa_desired or 0 for r in tl.rows) > 1
    assert max(r.pods_ready for r in tl.rows) > 1
    assert max(r.rps or 0 for r in tl.rows) > 0
    assert (tmp_path / "cluster-corebound.png").stat().st_size > 0
    summary = json.loads(tl.verdict_line)
    assert summary["slo"] == "PASS" and summary["requests"] > 0
    cluster.assert_no_restarts(NAMESPACE)


def test_an_impossible_slo_fails_the_test(cluster: Cluster, release: None) -> None:
    cluster.helm(
        "upgrade", "corebound", str(CHART), "--namespace", NAMESPACE, "--reuse-values",
        "--set", "loadtest.slo.p99Ms=1", "--set", "loadtest.slo.p95Ms=1",
        "--set", "loadtest.stepCount=1", "--set", "loadtest.stepSeconds=20", "--wait",
    )  # fmt: skip
    done = cluster.helm(
        "test", "corebound", "--namespace", NAMESPACE, "--filter", "name=corebound-loadtest",
        "--timeout", "10m", "--logs", check=False,
    )  # fmt: skip
    assert done.returncode != 0
    pod = cluster.json("--namespace", NAMESPACE, "get", "pod", "corebound-loadtest")
    assert pod["status"]["phase"] == "Failed"
    log = cluster.kubectl("--namespace", NAMESPACE, "logs", "corebound-loadtest", "-c", "locust")
    summary = slo.summary_in(log.stdout)
    assert summary is not None and summary["slo"] == "FAIL", log.stdout[-3000:]
