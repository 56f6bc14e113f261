"""Bring your own model: one the image does not contain, fetched by an init container into an
emptyDir (the chart's `initContainers`, `extraVolumes`, `extraVolumeMounts`, `model.dir`).

The model is made here (a 16 -> 32 -> 3 MLP), packed as the artifact tarball, and served from
an in-cluster HTTP server; the init container runs the service image's Python (the documented
example uses busybox, which this registry-less cluster does not hold).
"""

from __future__ import annotations

import json
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scripts.modelgen.synthetic import make_mlp

from .kube import CHART, Cluster

NAMESPACE = "own-model"
FETCH = (
    "import io, os, tarfile, urllib.request\n"
    "os.makedirs('/models/own', exist_ok=True)\n"
    "data = urllib.request.urlopen(os.environ['MODEL_URL'], timeout=60).read()\n"
    "tarfile.open(fileobj=io.BytesIO(data)).extractall('/models/own')\n"
)
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _model_server(cluster: Cluster, archive: Path) -> None:
    cluster.kubectl("create", "namespace", NAMESPACE)
    cluster.kubectl("--namespace", NAMESPACE, "create", "configmap", "model-archive",
                    f"--from-file=own-0.1.tar.gz={archive}")  # fmt: skip
    server = [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "models", "namespace": NAMESPACE, "labels": {"app": "models"}},
        "spec": {
            "containers": [{
                "name": "http", "image": cluster.images["service"],
                "command": ["python", "-m", "http.server", "8080", "--directory", "/srv"],
                "ports": [{"containerPort": 8080}], "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "archive", "mountPath": "/srv"}],
            }],
            "volumes": [{"name": "archive", "configMap": {"name": "model-archive"}}],
        },
    }, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "models", "namespace": NAMESPACE},
        "spec": {"selector": {"app": "models"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }]  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(server))
    cluster.kubectl("--namespace", NAMESPACE, "wait", "pod/models", "--for=condition=Ready",
                    "--timeout=120s")  # fmt: skip


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    tmp = tmp_path_factory.mktemp("own-model")
    make_mlp([16, 32, 3], tmp / "model", name="own-model")
    archive = tmp / "own-0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((tmp / "model").iterdir()):
            tar.add(path, arcname=path.name)
    _model_server(cluster, archive)
    values = {
        "model": {"dir": "/models/own", "sizeMiB": 1, "inputDim": 16},
        "extraVolumes": [{"name": "models", "emptyDir": {"sizeLimit": "64Mi"}}],
        "extraVolumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
        "initContainers": [{
            "name": "fetch-model", "image": cluster.images["service"],
            "command": ["python", "-c", FETCH],
            "env": [{"name": "MODEL_URL",
                     "value": f"http://models.{NAMESPACE}.svc/own-0.1.tar.gz"}],
            "volumeMounts": [{"name": "models", "mountPath": "/models"}],
            "securityContext": RESTRICTED,
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi"}},
        }],
    }  # fmt: skip
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    cluster.helm(
        "install", "corebound", str(CHART), "--namespace", NAMESPACE,
        *cluster.image_values(), "--values", str(tmp / "values.yaml"),
        "--set", "resources.cpu=500m", "--set", "autoscaling.enabled=false",
        "--set", "replicaCount=1", "--wait", "--timeout", "4m",
    )  # fmt: skip
    yield
    cluster.helm("uninstall", "corebound", "--namespace", NAMESPACE, "--wait", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=true", check=False)


def test_the_pods_serve_the_fetched_model(cluster: Cluster, release: None) -> None:
    with cluster.port_forward(NAMESPACE, "svc/corebound", 80) as port:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/info", timeout=10) as r:
            info = json.load(r)
        request = urllib.request.Request(
            f"{base}/v1/predict", data=json.dumps({"inputs": [[1.0] * 16]}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as r:
            answer = json.load(r)
    assert info["model"]["name"] == "own-model"
    assert info["model"]["input_dim"] == 16
    assert len(answer["outputs"][0]) == 3 and answer["labels"][0] in {"0", "1", "2"}
