"""What every fault test does: a release, Locust through its Service, the fault, the figures."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.localcluster.layout import Layout

from ..kube import REPO, Cluster
from ..load import locust_pod, summary
from .report import Fault

WARM_UP_S = 5  # Locust's users connected and the pods' batchers busy before the fault
KUBELET_NOT_READY_S = 12  # CoreDNS's readiness period (10 s), and the status sync after


def local_layout(cluster: Cluster) -> Layout:
    """The local cluster's processes: node faults need them (any other cluster has its own
    operators; CI runs the local one, so these run there)."""
    if cluster.rebuild is None:
        pytest.skip("node faults restart the local cluster's own processes (KUBECONFIG is set)")
    return Layout.default()


def node_command(*args: str) -> str:
    """`python -m scripts.localcluster ARGS`, as the report names it; run to its end."""
    argv = ["python", "-m", "scripts.localcluster", *args]
    done = subprocess.run([sys.executable, *argv[1:]], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return " ".join(argv)


def settle_after_kubelet_restart(cluster: Cluster, namespace: str) -> None:
    """Waits out the NotReady moment a restarted kubelet gives every probed pod (fault 1,
    kubernetes#100277) before load that must not count it: the Service's pods and CoreDNS
    (readiness probed every 10 s) Ready again."""
    time.sleep(KUBELET_NOT_READY_S)
    for where, selector in ((namespace, "app.kubernetes.io/name=corebound"),
                            ("kube-system", "k8s-app=kube-dns")):  # fmt: skip
        cluster.kubectl("--namespace", where, "wait", "pod", "-l", selector,
                        "--for=condition=Ready", "--timeout=120s")  # fmt: skip


def connection_errors_only(fault: Fault) -> bool:
    """Every failed request found no server to connect to (no HTTP error status at all)."""
    rows = fault.figures.get("locust_errors", [])[1:]
    return all("connection error" in row for row in rows)


def run_pod(cluster: Cluster, namespace: str, name: str, argv: list[str],
            **container: Any) -> None:  # fmt: skip
    """A restricted pod of the loadtest image (Python, no server) running argv once; BestEffort
    unless `container` gives resources (and volumeMounts, with `volumes` for the pod)."""
    volumes = container.pop("volumes", [])
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "containers": [{
            "name": "main", "image": cluster.images["loadtest"], "command": argv,
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "runAsUser": 10001, "capabilities": {"drop": ["ALL"]}},
            **container,
        }], "volumes": volumes},
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))


def file_configmap(cluster: Cluster, namespace: str, name: str, path: Path) -> None:
    """A ConfigMap `name` holding the file at `path` under its own name (pods mount it)."""
    cluster.prepare_namespace(namespace)
    made = cluster.kubectl("--namespace", namespace, "create", "configmap", name,
                           f"--from-file={path.name}={path}", "--dry-run=client",
                           "-o", "yaml").stdout  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=made)


def install(cluster: Cluster, namespace: str, *values: str) -> None:
    # This build by digest: a node keeps the image of an earlier build under the same tag.
    digest = cluster.release.get("service", {}).get("digest")
    pinned = ["--set", f"image.digest={digest}"] if digest else []
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        *cluster.image_values(namespace), *pinned, *values, "--wait", "--timeout", "5m",
    )  # fmt: skip
    _wait_for_the_minimum(cluster, namespace)


def _wait_for_the_minimum(cluster: Cluster, namespace: str) -> None:
    """The HPA's minimum of pods Ready: `--wait` sees the Deployment's first replica only, and
    a pod the HPA adds just after would otherwise start in the middle of the fault."""
    ns = ("--namespace", namespace)
    hpas = cluster.json(*ns, "get", "hpa")["items"]
    least = max([hpa["spec"].get("minReplicas", 1) for hpa in hpas], default=1)
    deadline = time.monotonic() + 180
    ready = 0
    while time.monotonic() < deadline:
        ready = cluster.json(*ns, "get", "deployment", "corebound")["status"].get(
            "readyReplicas", 0)  # fmt: skip
        if ready >= least:
            return
        time.sleep(2)
    raise AssertionError(f"{ready} of the HPA's minimum {least} pods Ready in {namespace}")


def pods(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items = cluster.json("--namespace", namespace, "get", "pods", "-l",
                         "app.kubernetes.io/name=corebound")["items"]  # fmt: skip
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def restarts(cluster: Cluster, namespace: str) -> int:
    return sum(
        status["restartCount"]
        for pod in pods(cluster, namespace)
        for status in pod["status"].get("containerStatuses") or []
    )


@contextlib.contextmanager
def under_load(
    cluster: Cluster, namespace: str, fault: Fault, users: int, seconds: int
) -> Iterator[dict[str, Any]]:
    """Locust for `seconds` through the Service around the body (the fault); the fault's
    requests, failures, p99 and restarts filled in after, and the run's summary yielded."""
    name = f"load-{fault.key}"
    cluster.kubectl("--namespace", namespace, "delete", "pod", name, "--ignore-not-found")
    before = restarts(cluster, namespace)
    started = time.monotonic()
    locust_pod(cluster, namespace, name, users, seconds)
    time.sleep(WARM_UP_S)
    result: dict[str, Any] = {}
    yield result
    result.update(summary(cluster, namespace, name, seconds + 120))
    if result["failures"]:
        log = cluster.kubectl("--namespace", namespace, "logs", name).stdout
        fault.figures["locust_errors"] = errors_in(log)
    fault.requests, fault.failed = int(result["requests"]), int(result["failures"])
    fault.p99_ms = float(result["p99_ms"])
    fault.restarts = restarts(cluster, namespace) - before
    fault.figures["load"] = f"{users} Locust users for {seconds} s through the Service"
    fault.figures["p95_ms"] = result["p95_ms"]
    fault.seconds = time.monotonic() - started


def errors_in(log: str) -> list[str]:
    """The rows of Locust's closing error report: how often, which request, what error."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if "Error report" in line), None)
    if start is None:
        return []
    rows = []
    for line in lines[start + 1 :]:
        if line.strip().startswith("{") or not line.strip():
            break
        if line.strip().startswith(("#", "-", "|")) and "occurrences" not in line:
            continue
        rows.append(" ".join(line.split()))
    return rows[:10]
