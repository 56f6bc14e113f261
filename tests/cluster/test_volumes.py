"""PersistentVolumes from the default StorageClass (on the local cluster: the local-path
provisioner's): a claim that names no class binds, a pod writes to it, the same pod made
again reads it back, and a deleted claim takes its volume with it (on the local cluster: its
directory under the cluster's state, which `down` removes in any case).

The pods run as the chart's do (uid 10001, read-only root, no capabilities): the Redis of
the job queue writes its volume so.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.localcluster.layout import Layout

from .kube import Cluster, namespace_per_test

CLAIM = "data"
POD = "volume-user"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from namespace_per_test(cluster, "pv", request.node.name)


def _claim() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": CLAIM},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
    }  # fmt: skip


def _pod(image: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "runAsNonRoot": True},
            "containers": [{
                "name": "user", "image": image, "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                              "limits": {"memory": "64Mi"}},
                "securityContext": {"readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": CLAIM}}],
        },
    }  # fmt: skip


def _run_pod(cluster: Cluster, namespace: str, image: str, script: str) -> str:
    """Runs the pod to its end and deletes it; returns its output."""
    cluster.kubectl(
        "--namespace", namespace, "apply", "-f", "-", input=json.dumps(_pod(image, script))
    )
    deadline = time.monotonic() + 240  # the first pod also pulls the image
    phase = ""
    while time.monotonic() < deadline:
        pod = cluster.json("--namespace", namespace, "get", "pod", POD)
        phase = pod["status"].get("phase", "")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(1)
    logs = cluster.kubectl("--namespace", namespace, "logs", POD, check=False).stdout
    described = cluster.kubectl("--namespace", namespace, "describe", "pod", POD).stdout
    assert phase == "Succeeded", f"{phase or 'not done'}: {logs}\n{described[-3000:]}"
    cluster.kubectl("--namespace", namespace, "delete", "pod", POD, "--wait=true")
    return logs


def _default_class(cluster: Cluster) -> str:
    classes = cluster.json("get", "storageclass")["items"]
    default = [
        c["metadata"]["name"]
        for c in classes
        if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
    ]
    assert len(default) == 1, f"one default StorageClass, not {default}"
    return str(default[0])


def test_a_claim_on_the_default_class_keeps_data_across_pods_and_goes_with_the_claim(
    cluster: Cluster, namespace: str
) -> None:
    local = cluster.kubeconfig == Layout.default().kubeconfig
    default = _default_class(cluster)
    if local:
        assert default == "local-path"
    cluster.prepare_namespace(namespace)  # the pull secret for the released image
    cluster.kubectl("--namespace", namespace, "apply", "-f", "-", input=json.dumps(_claim()))
    claim = cluster.json("--namespace", namespace, "get", "pvc", CLAIM)
    assert claim["spec"]["storageClassName"] == default  # filled in by the admission plugin

    token = uuid.uuid4().hex
    image = cluster.images["service"]
    written = _run_pod(cluster, namespace, image, f"echo {token} > /data/token && id -u")
    assert written.split() == ["10001"]
    claim = cluster.json("--namespace", namespace, "get", "pvc", CLAIM)
    assert claim["status"]["phase"] == "Bound"
    volume = cluster.json("get", "pv", claim["spec"]["volumeName"])
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    source = volume["spec"].get("hostPath") or volume["spec"].get("local") or {}
    directory = Path(source.get("path", ""))
    if local:
        assert directory.parent == Layout.default().volumes, directory
        assert (directory / "token").read_text().strip() == token

    # The same pod, made again after the first is gone, finds what it wrote.
    assert _run_pod(cluster, namespace, image, "cat /data/token").strip() == token

    cluster.kubectl("--namespace", namespace, "delete", "pvc", CLAIM, "--wait=true")
    cluster.kubectl("wait", "--for=delete", f"pv/{volume['metadata']['name']}", "--timeout=120s",
                    check=False)  # fmt: skip
    gone = cluster.kubectl("get", "pv", volume["metadata"]["name"], check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout
    if local:
        assert not directory.exists(), f"the provisioner left {directory}"
