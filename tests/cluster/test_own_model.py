"""Bring your own model: one the image does not contain, fetched by an init container into an
emptyDir (the chart's `initContainers`, `extraVolumes`, `extraVolumeMounts`, `model.dir`).

The model is made here (a 16 -> 32 -> 3 MLP), packed as the artifact tarball, and served from
an in-cluster HTTP server (tests/cluster/model_server.py).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

from scripts.modelgen.synthetic import make_mlp

from . import model_server
from .kube import Cluster

NAMESPACE = "own-model"


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    tmp = tmp_path_factory.mktemp("own-model")
    make_mlp([16, 32, 3], tmp / "model", name="own-model")
    model_server.serve(
        cluster, NAMESPACE, [model_server.pack(tmp / "model", tmp / "own-0.1.tar.gz")]
    )
    values = model_server.fetched(cluster, NAMESPACE, "own-0.1.tar.gz", "/models/own")
    values["model"] |= {"sizeMiB": 1, "inputDim": 16}
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE), "--values", str(tmp / "values.yaml"),
        "--set", "resources.cpu=500m", "--set", "autoscaling.enabled=false",
        "--set", "replicaCount=1", "--wait", "--timeout", "4m",
    )  # fmt: skip
    yield
    cluster.remove_namespace(NAMESPACE, "corebound")


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
