"""`kubectl apply -k` of each overlay on a fresh cluster: the Namespace, then Ready pods.

A user's own kustomization on top points the images at the release in the cluster's registry
(`images:`) with a generated pull secret, as anyone deploying from a private registry does.
The large overlay's pods ask for 4 CPUs, more than this 2-core node has: its CPU is patched
down to 1, and the unpatched overlay is then checked by the API server (server dry-run, once
its Namespace exists: a dry run creates nothing for the objects after it). Then the overlay's
own load test runs as a user runs it (Jobs from its CronJobs, the summary from its results
ConfigMap), made to fit beside one pod: the HPA's minimum, the master's wait and the worker
count 1, the master 0.1 CPU, the worker 0.3.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from scripts.cluster_loadtest.timeline import job_condition

from .kube import PULL_SECRET, REPO, Cluster

OVERLAYS = REPO / "k8s" / "overlays"
FITS_THIS_NODE = {"small": None, "large": "1"}


def _namespace(overlay: str) -> str:
    return str(yaml.safe_load((OVERLAYS / overlay / "kustomization.yaml").read_text())["namespace"])


def _cpu_patch(container: str, cpu: str) -> list[dict[str, str]]:
    return [{"op": "replace", "path": f"{container}/resources/{kind}/cpu", "value": cpu}
            for kind in ("requests", "limits")]  # fmt: skip


POD = "/spec/jobTemplate/spec/template/spec"
LOADTEST_FITS_THIS_NODE = [
    {"target": {"kind": "HorizontalPodAutoscaler", "name": "corebound"},
     "patch": yaml.safe_dump([{"op": "replace", "path": "/spec/minReplicas", "value": 1}])},
    {"target": {"kind": "CronJob", "name": "corebound-loadtest-workers"},
     "patch": yaml.safe_dump([
         # A worker throttled to 0.1 CPU sent nothing in 15 s on a loaded node.
         *_cpu_patch(f"{POD}/containers/0", "300m"),
         {"op": "replace", "path": "/spec/jobTemplate/spec/parallelism", "value": 1},
         {"op": "replace", "path": "/spec/jobTemplate/spec/completions", "value": 1},
     ])},
    {"target": {"kind": "CronJob", "name": "corebound-loadtest"},
     "patch": yaml.safe_dump([
         *_cpu_patch(f"{POD}/containers/0", "100m"),
         # One pod of the overlay fits beside the load test here: the master waits for one.
         {"op": "test", "path": f"{POD}/initContainers/0/command/6", "value": "--count"},
         {"op": "replace", "path": f"{POD}/initContainers/0/command/7", "value": "1"},
         {"op": "test", "path": f"{POD}/containers/0/env/1/name",
          "value": "LOCUST_EXPECT_WORKERS"},
         {"op": "replace", "path": f"{POD}/containers/0/env/1/value", "value": "1"},
     ])},
]  # fmt: skip


def _shipped_image(path: Path) -> str:
    """The image name the shipped manifests use (what `images:` entries match), tag dropped."""
    image = next(line.split("image:", 1)[1] for line in path.read_text().splitlines()
                 if "image:" in line)  # fmt: skip
    return image.strip().rsplit(":", 1)[0]


def _user_kustomization(tmp: Path, overlay: str, cluster: Cluster, cpu: str | None) -> Path:
    """A user's kustomization over the overlay: the images from the cluster's registry, its
    pull secret generated and given to every ServiceAccount, the sizes patched to fit."""
    assert cluster.registry is not None, "the overlays are tried against the local registry"
    (tmp / "dockerconfig.json").write_text(cluster.registry.docker_config())
    patches: list[dict[str, object]] = [*LOADTEST_FITS_THIS_NODE, {
        "target": {"kind": "ServiceAccount"},
        "patch": yaml.safe_dump([{"op": "add", "path": "/imagePullSecrets",
                                  "value": [{"name": PULL_SECRET}]}]),
    }]  # fmt: skip
    if cpu:
        patches.append({
            "target": {"kind": "Deployment", "name": "corebound"},
            "patch": yaml.safe_dump(_cpu_patch("/spec/template/spec/containers/0", cpu)),
        })  # fmt: skip
    images = []
    for target, shipped in (
        ("service", REPO / "k8s/base/deployment.yaml"),
        ("loadtest", REPO / "k8s/components/loadtest/loadtest-cronjobs.yaml"),
    ):
        name, tag = cluster.images[target].rsplit(":", 1)
        images.append({"name": _shipped_image(shipped), "newName": name, "newTag": tag})
    doc: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": _namespace(overlay),  # the generated pull secret's
        # kustomize takes no absolute paths, but relative bases anywhere.
        "resources": [os.path.relpath(OVERLAYS / overlay, tmp)],
        "images": images,
        # kustomize renames the secret with its hash and follows it into imagePullSecrets.
        "secretGenerator": [{"name": PULL_SECRET, "type": "kubernetes.io/dockerconfigjson",
                             "files": [".dockerconfigjson=dockerconfig.json"]}],
        # The overlay's load test made small enough to run beside the pods on this node.
        "patches": patches,
    }  # fmt: skip
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return tmp


@pytest.mark.parametrize("overlay", sorted(FITS_THIS_NODE))
def test_overlay_applies_on_a_fresh_cluster(cluster: Cluster, overlay: str, tmp_path: Path) -> None:
    namespace = _namespace(overlay)
    user = _user_kustomization(tmp_path, overlay, cluster, FITS_THIS_NODE[overlay])
    try:
        applied = cluster.kubectl("apply", "-k", str(user))
        assert f"namespace/{namespace} created" in applied.stdout  # a fresh cluster's first apply
        # The overlay exactly as shipped: the API server accepts every object as it is.
        cluster.kubectl("apply", "-k", str(OVERLAYS / overlay), "--dry-run=server")
        cluster.kubectl("--namespace", namespace, "rollout", "status", "deployment/corebound",
                        "--timeout=300s")  # fmt: skip
        deployment = cluster.json("--namespace", namespace, "get", "deployment", "corebound")
        assert deployment["status"]["readyReplicas"] >= 1
        configmaps = cluster.json("--namespace", namespace, "get", "configmaps")["items"]
        # configMapGenerator: the name carries the content hash, so a change rolls the pods.
        assert any(c["metadata"]["name"].startswith("corebound-") for c in configmaps)
        run_the_overlays_load_test(cluster, namespace)
    finally:
        cluster.stop_pods(namespace)
        cluster.kubectl("delete", "-k", str(user), "--wait=true", "--timeout=180s", check=False)


def run_the_overlays_load_test(cluster: Cluster, namespace: str) -> None:
    """A short run from the overlay's CronJobs, as the chart's is run: completed, kept."""
    ns = ("--namespace", namespace)
    cluster.kubectl(*ns, "create", "job", "--from=cronjob/corebound-loadtest-workers", "k-workers")
    master = cluster.kubectl(*ns, "create", "job", "--from=cronjob/corebound-loadtest", "k",
                             "--dry-run=client", "-o", "yaml").stdout  # fmt: skip
    short = cluster.kubectl("set", "env", "--local", "-f", "-", "LOAD_SHAPE=constant",
                            "CONSTANT_USERS=5", "CONSTANT_SECONDS=30", "-o", "yaml",
                            input=master).stdout  # fmt: skip
    cluster.kubectl(*ns, "create", "-f", "-", input=short)
    deadline = time.monotonic() + 600
    while not (ended := job_condition(cluster.json(*ns, "get", "job", "k"))):
        assert time.monotonic() < deadline, "the overlay's load test did not end in 10 minutes"
        time.sleep(3)
    logs = cluster.kubectl(*ns, "logs", "job/k", "--all-containers").stdout
    assert ended["type"] == "Complete", logs
    summary = cluster.kubectl(*ns, "get", "configmap", "corebound-loadtest-results", "-o",
                              r"jsonpath={.data.summary\.json}").stdout  # fmt: skip
    found = json.loads(summary)
    assert found["run"] == "k" and found["slo"] == "PASS" and found["requests"] > 0, found
