"""`kubectl apply -k` of each overlay on a fresh cluster: the Namespace, then Ready pods.

A user's own kustomization on top points the image at the one this cluster holds, as anyone
deploying from a registry does with `images:`. The large overlay's pods ask for 4 CPUs, more
than this 2-core node has: its CPU is patched down to 1 (the objects are otherwise the
overlay's own), and the unpatched overlay is then checked by the API server (server dry-run,
once its Namespace exists: a dry run creates nothing for the objects after it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from .kube import REPO, Cluster

OVERLAYS = REPO / "k8s" / "overlays"
FITS_THIS_NODE = {"small": None, "large": "1"}


def _namespace(overlay: str) -> str:
    return str(yaml.safe_load((OVERLAYS / overlay / "kustomization.yaml").read_text())["namespace"])


def _user_kustomization(tmp: Path, overlay: str, image: str, cpu: str | None) -> Path:
    name, tag = image.rsplit(":", 1)
    doc: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes no absolute paths, but relative bases anywhere.
        "resources": [os.path.relpath(OVERLAYS / overlay, tmp)],
        "images": [{"name": "corebound", "newName": name, "newTag": tag}],
    }
    if cpu:
        doc["patches"] = [{
            "target": {"kind": "Deployment", "name": "corebound"},
            "patch": yaml.safe_dump([
                {"op": "replace", "path": f"/spec/template/spec/containers/0/resources/{kind}/cpu",
                 "value": cpu} for kind in ("requests", "limits")
            ]),
        }]  # fmt: skip
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return tmp


@pytest.mark.parametrize("overlay", sorted(FITS_THIS_NODE))
def test_overlay_applies_on_a_fresh_cluster(cluster: Cluster, overlay: str, tmp_path: Path) -> None:
    namespace = _namespace(overlay)
    user = _user_kustomization(
        tmp_path, overlay, cluster.images["service"], FITS_THIS_NODE[overlay]
    )
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
    finally:
        cluster.kubectl("delete", "-k", str(user), "--wait=true", "--timeout=180s", check=False)
