"""`helm install --wait` on a real cluster: the pods size themselves from their own cgroups."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from .kube import Cluster


def _memory_mib(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "Ki": 1 / 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


@pytest.fixture(scope="module", params=["500m", "1"])
def release(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[tuple[str, str]]:
    cpu = str(request.param)
    namespace = f"install-cpu-{cpu}"
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        *cluster.image_values(namespace), "--set", f"resources.cpu={cpu}",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=1",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    yield namespace, cpu
    cluster.remove_namespace(namespace, "corebound", check=True)


def test_pod_sizes_itself_from_its_cgroup(cluster: Cluster, release: tuple[str, str]) -> None:
    namespace, cpu = release
    deployment = cluster.json("--namespace", namespace, "get", "deployment", "corebound")
    assert deployment["status"]["readyReplicas"] == 1
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    with (
        cluster.port_forward(namespace, "svc/corebound", 80) as port,
        urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=10) as r,
    ):
        info = json.load(r)
    plan = info["plan"]
    expected_cpu = 0.5 if cpu == "500m" else 1.0
    # What the pod's own cgroup says, read by the service (CFS quota / period).
    assert plan["cpu_limit"] == expected_cpu
    assert plan["workers"] == 1
    assert plan["threads"] == 1
    assert set(info["blas_threads"].values()) == {1}  # per BLAS library, as BLAS reports
    # The memory limit the container's cgroup shows is the one the chart asked for.
    assert plan["memory_limit_mib"] == pytest.approx(_memory_mib(limits["memory"]))
    assert plan["memory_mib"] <= plan["memory_limit_mib"]
