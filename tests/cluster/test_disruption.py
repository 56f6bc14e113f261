"""Rolling updates, evictions and a lost pod, under steady load through the Service."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from .kube import Cluster
from .load import locust_pod, summary

NAMESPACE = "disruption"
USERS = 6


@pytest.fixture(scope="module")
def release(cluster: Cluster) -> Iterator[None]:
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE), "--set", "resources.cpu=500m",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=2",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    yield
    cluster.remove_namespace(NAMESPACE, "corebound", check=True)


def _server_pods(cluster: Cluster) -> list[str]:
    pods = cluster.json("--namespace", NAMESPACE, "get", "pods", "-l",
                        "app.kubernetes.io/name=corebound")["items"]  # fmt: skip
    return sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))


def _rolled_out(cluster: Cluster) -> None:
    cluster.kubectl("--namespace", NAMESPACE, "rollout", "status", "deployment/corebound",
                    "--timeout=300s")  # fmt: skip


def test_rolling_update_under_load_loses_no_request(cluster: Cluster, release: None) -> None:
    before = _server_pods(cluster)
    load = locust_pod(cluster, NAMESPACE, "load-rollout", USERS, 100)
    time.sleep(15)  # steady state first
    # A pod-template change (an env var through extraEnv): every pod is replaced.
    cluster.helm(
        "upgrade", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE, "--reuse-values",
        "--set", "extraEnv[0].name=ROLLOUT_MARK", "--set-string", "extraEnv[0].value=1",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    _rolled_out(cluster)
    after = _server_pods(cluster)
    result = summary(cluster, NAMESPACE, load, 240)
    print(f"rolling update under load: {result}")
    assert not set(before) & set(after), "the upgrade did not replace the pods"
    assert result["requests"] > 100
    assert result["failures"] == 0, result
    assert result["phase"] == "Succeeded", result
    cluster.assert_no_restarts(NAMESPACE)


def _evict(cluster: Cluster, pod: str) -> tuple[int, str]:
    body = json.dumps({
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": pod, "namespace": NAMESPACE},
    })  # fmt: skip
    done = cluster.kubectl(
        "create", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/eviction", "-f", "-",
        input=body, check=False,
    )  # fmt: skip
    return done.returncode, done.stderr


def test_eviction_respects_the_pdb(cluster: Cluster, release: None) -> None:
    _rolled_out(cluster)
    first, second = _server_pods(cluster)[:2]
    code, err = _evict(cluster, first)
    assert code == 0, err
    # maxUnavailable 1: the second eviction is refused until the replacement is ready.
    code, err = _evict(cluster, second)
    assert code != 0 and "disruption budget" in err, err
    _rolled_out(cluster)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, err = _evict(cluster, second)
        if code == 0:
            break
        time.sleep(3)
    assert code == 0, f"still refused once the replacement was ready: {err}"
    _rolled_out(cluster)


def test_deleting_a_pod_under_load_loses_at_most_its_in_flight_requests(
    cluster: Cluster, release: None
) -> None:
    _rolled_out(cluster)
    load = locust_pod(cluster, NAMESPACE, "load-delete", USERS, 60)
    time.sleep(15)
    victim = _server_pods(cluster)[0]
    cluster.kubectl("--namespace", NAMESPACE, "delete", "pod", victim, "--wait=false")
    result = summary(cluster, NAMESPACE, load, 180)
    print(f"pod deleted under load: {result}")
    assert result["requests"] > 100
    # Each Locust user has one request in flight at most.
    assert result["failures"] <= USERS, result
