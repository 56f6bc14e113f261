"""`helm install` and `helm upgrade` as users run them: values that used to break pods, the HPA
switched on later, and an upgrade from the previous chart release, each under real load."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .kube import REPO, Cluster, namespace_per_test
from .load import locust_pod, summary

# The chart as released before this one (0.1.0), taken from the repository's history.
PREVIOUS_RELEASE = "334b15f"


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from namespace_per_test(cluster, "upgrade", request.node.name)


def test_a_short_queue_installs_pods_that_start(cluster: Cluster, namespace: str) -> None:
    # Before 0.2.0 this rendered MAX_QUEUE_ROWS=100 with 256 rows per request: CrashLoopBackOff.
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        *cluster.image_values(namespace), "--set", "resources.cpu=500m",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=1",
        "--set", "batching.maxQueueRows=100", "--wait", "--timeout", "3m",
    )  # fmt: skip
    pods = cluster.json("--namespace", namespace, "get", "pods", "-l",
                        "app.kubernetes.io/name=corebound")["items"]  # fmt: skip
    assert [p["status"]["containerStatuses"][0]["restartCount"] for p in pods] == [0]


def _watch_replicas(
    cluster: Cluster, namespace: str, seen: list[int], stop: threading.Event
) -> None:
    while not stop.is_set():
        deployment = cluster.json("--namespace", namespace, "get", "deployment", "corebound")
        seen.append(int(deployment["spec"].get("replicas", 1)))
        time.sleep(0.5)


def test_switching_the_hpa_on_keeps_the_replicas(cluster: Cluster, namespace: str) -> None:
    base = [*cluster.image_values(namespace), "--set", "resources.cpu=500m"]
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        *base, "--set", "autoscaling.enabled=false", "--set", "replicaCount=3",
        "--wait", "--timeout", "3m",
    )  # fmt: skip
    seen: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_replicas, args=(cluster, namespace, seen, stop))
    watcher.start()
    try:
        cluster.helm(
            "upgrade", "corebound", *cluster.chart_ref(), "--namespace", namespace,
            "--reuse-values",
            "--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=1",
            "--set", "autoscaling.maxReplicas=3", "--wait", "--timeout", "3m",
        )  # fmt: skip
        time.sleep(3)
    finally:
        stop.set()
        watcher.join()
    # Helm's three-way merge would have sent replicas: null (1 pod) without the chart's lookup.
    assert seen and min(seen) == 3, seen


def _previous_chart(tmp: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", PREVIOUS_RELEASE, "helm/corebound"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp / "helm" / "corebound"


def test_upgrade_from_the_previous_release_to_a_new_build_under_load(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """The previous chart on the released version tag, then this chart rolled to a new build
    of the images by its digest (one exact build, whatever its tags later name)."""
    assert cluster.rebuild is not None, "a new build needs the cluster's own registry"
    previous = _previous_chart(tmp_path)
    # The previous chart's derived memory limit predates the request-body term of the memory
    # plan, so it is given the room this image's plan asks for, as a user's values would.
    cluster.helm(
        "install", "corebound", str(previous), "--namespace", namespace,
        *cluster.image_values(namespace), "--set", f"image.tag={cluster.release['tags'][0]}",
        "--set", "resources.cpu=500m", "--set", "resources.memoryMiB=300",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=2",
        "--wait", "--timeout", "3m",
    )  # fmt: skip
    built = cluster.rebuild(f"{cluster.release['revision']}-upgrade")
    digest = built["service"]["digest"]
    assert digest != cluster.release["service"]["digest"], "the new build is another image"
    load = locust_pod(cluster, namespace, "load-upgrade", 6, 90)
    time.sleep(15)
    # Across chart versions: the new chart's defaults with the release's own values (plain
    # --reuse-values would keep the old chart's defaults, which lack the new keys).
    cluster.helm(
        "upgrade", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        "--reset-then-reuse-values", "--set", "resources.memoryMiB=null",
        "--set", "image.tag=null", "--set", f"image.digest={digest}",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    result = summary(cluster, namespace, load, 240)
    print(f"upgrade from the previous chart to build {digest[:19]} under load: {result}")
    assert result["requests"] > 100
    assert result["failures"] == 0, result
    pods = cluster.json("--namespace", namespace, "get", "pods", "-l",
                        "app.kubernetes.io/name=corebound")["items"]  # fmt: skip
    running = [status["imageID"] for pod in pods for status in pod["status"]["containerStatuses"]]
    assert running and all(image_id.endswith(f"@{digest}") for image_id in running), running
