"""Models a user keeps outside the image: tarballs served over HTTP inside the cluster, and the
chart values that fetch one with an init container into an emptyDir (README "Your own model").

The init container runs the service image's Python (the documented example uses busybox,
which this registry-less cluster does not hold).
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import yaml

from .kube import Cluster

FETCH = (
    "import io, os, sys, tarfile, urllib.request\n"
    "os.makedirs(sys.argv[1], exist_ok=True)\n"
    "data = urllib.request.urlopen(os.environ['MODEL_URL'], timeout=60).read()\n"
    "tarfile.open(fileobj=io.BytesIO(data)).extractall(sys.argv[1])\n"
)
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pack(model_dir: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def serve(cluster: Cluster, namespace: str, archives: list[Path]) -> None:
    """Pod `models` + Service `models` in `namespace` serving the archives by file name."""
    cluster.prepare_namespace(namespace)  # its pod pulls the service image
    files = [f"--from-file={a.name}={a}" for a in archives]
    cluster.kubectl("--namespace", namespace, "create", "configmap", "model-archives", *files)
    server = [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "models", "namespace": namespace, "labels": {"app": "models"}},
        "spec": {
            "containers": [{
                "name": "http", "image": cluster.images["service"],
                "command": ["python", "-m", "http.server", "8080", "--directory", "/srv"],
                "ports": [{"containerPort": 8080}], "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "archives", "mountPath": "/srv"}],
            }],
            "volumes": [{"name": "archives", "configMap": {"name": "model-archives"}}],
        },
    }, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "models", "namespace": namespace},
        "spec": {"selector": {"app": "models"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }]  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(server))
    cluster.kubectl("--namespace", namespace, "wait", "pod/models", "--for=condition=Ready",
                    "--timeout=120s")  # fmt: skip


def fetched(cluster: Cluster, namespace: str, archive: str, into: str) -> dict[str, Any]:
    """Chart values: an init container fetches `archive` into `into`, which MODEL_DIR names."""
    return {
        "model": {"dir": into},
        "extraVolumes": [{"name": "models", "emptyDir": {"sizeLimit": "64Mi"}}],
        "extraVolumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
        "initContainers": [{
            "name": "fetch-model", "image": cluster.images["service"],
            "command": ["python", "-c", FETCH, into],
            "env": [{"name": "MODEL_URL", "value": f"http://models.{namespace}.svc/{archive}"}],
            "volumeMounts": [{"name": "models", "mountPath": "/models"}],
            "securityContext": RESTRICTED,
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi"}},
        }],
    }  # fmt: skip
