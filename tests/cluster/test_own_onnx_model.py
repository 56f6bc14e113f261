"""A user's model.onnx and nothing else, on the cluster: exported by the converters here,
fetched by an init container, installed with `helm install`, checked by `helm test` (its
predict check follows the served model) and by a run of the chart's load test Jobs (which
learn the model too), answering as onnxruntime does in-process; and a model call of 90
seconds that completes with no restart."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx_models
import pytest
import yaml

from scripts.cluster_loadtest import timeline

from . import model_server
from .kube import REPO, Cluster

NAMESPACE = "onnx-model"
LONG_CALL_S = 90
SMALL = [
    "--set", "resources.cpu=500m", "--set", "autoscaling.enabled=false",
    "--set", "replicaCount=1", "--set", "model.sizeMiB=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def models(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> onnx_models.OnnxModel:
    tmp = tmp_path_factory.mktemp("onnx-model")
    classifier = onnx_models.logistic_pipeline(tmp / "classifier")
    onnx_models.long_call_graph(tmp / "long")
    archives = [
        model_server.pack(tmp / "classifier", tmp / "classifier.tar.gz"),
        model_server.pack(tmp / "long", tmp / "long.tar.gz"),
    ]
    model_server.serve(cluster, NAMESPACE, archives)
    return classifier


def install(cluster: Cluster, tmp: Path, release: str, archive: str, *values: str) -> None:
    chart_values = model_server.fetched(cluster, NAMESPACE, archive, f"/models/{release}")
    (tmp / f"{release}.yaml").write_text(yaml.safe_dump(chart_values))
    cluster.helm(
        "install", release, *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE),
        "--values", str(tmp / f"{release}.yaml"), *SMALL, *values, "--wait", "--timeout", "4m",
    )  # fmt: skip


@pytest.fixture(scope="module")
def classifier(
    cluster: Cluster, models: onnx_models.OnnxModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[onnx_models.OnnxModel]:
    install(
        cluster, tmp_path_factory.mktemp("values"), "classifier", "classifier.tar.gz",
        "--set", "loadtest.enabled=true", "--set", "loadtest.workers=1",
        "--set", "loadtest.cpu=300m", "--set", "loadtest.memoryMiB=256",
        "--set", "loadtest.master.cpu=100m", "--set", "loadtest.stepSeconds=15",
        "--set", "loadtest.stepCount=2",
        "--set", "loadtest.slo.p95Ms=5000", "--set", "loadtest.slo.p99Ms=10000",
    )  # fmt: skip
    yield models
    cluster.helm("uninstall", "classifier", "--namespace", NAMESPACE, "--wait", check=False)


@pytest.fixture(scope="module")
def long_release(
    cluster: Cluster, models: onnx_models.OnnxModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    limit = str(LONG_CALL_S * 2)
    install(
        cluster, tmp_path_factory.mktemp("values"), "long", "long.tar.gz",
        "--set", "model.inputDim=1", "--set", f"model.maxCallSeconds={limit}",
        "--set", f"batching.requestTimeoutS={limit}",
    )  # fmt: skip
    yield "long"
    cluster.helm("uninstall", "long", "--namespace", NAMESPACE, "--wait", check=False)


@pytest.fixture(scope="module", autouse=True)
def namespace(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.remove_namespace(NAMESPACE)


def call(port: int, path: str, body: Any = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def test_helm_test_and_the_load_test_pass_against_the_onnx_model(
    cluster: Cluster, classifier: onnx_models.OnnxModel, tmp_path: Path
) -> None:
    done = cluster.helm(
        "test", "classifier", "--namespace", NAMESPACE, "--timeout", "10m", "--logs", check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    run = subprocess.run(
        [sys.executable, "-m", "scripts.cluster_loadtest", "--release", "classifier",
         "--namespace", NAMESPACE, "--out", str(tmp_path), "--record",
         str(tmp_path / "events.json"), "--timeout-s", "600"],
        cwd=REPO, env=cluster.env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    events = json.loads((tmp_path / "events.json").read_text())["events"]
    summary = json.loads(timeline.replay(events).verdict_line)
    assert summary["slo"] == "PASS" and summary["requests"] > 0 and summary["failures"] == 0


def test_the_pods_answer_as_onnxruntime_in_process(
    cluster: Cluster, classifier: onnx_models.OnnxModel
) -> None:
    ((name, rows),) = classifier.inputs.items()
    tensor = {"name": name, "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}
    with cluster.port_forward(NAMESPACE, "svc/classifier-corebound", 80) as port:
        meta = call(port, "/v2/models/classifier")
        answer = call(port, "/v2/models/classifier/infer", {"inputs": [tensor]})
        info = call(port, "/info")
    assert meta["inputs"] == [{"name": name, "datatype": "FP32", "shape": [-1, 64]}]
    outputs = {o["name"]: np.array(o["data"]).reshape(o["shape"]) for o in answer["outputs"]}
    np.testing.assert_array_equal(outputs["label"], classifier.outputs["label"])
    np.testing.assert_allclose(
        outputs["probabilities"], classifier.outputs["probabilities"], rtol=1e-5, atol=1e-6
    )
    assert info["model"]["platform"] == "onnxruntime_onnx" and info["model"]["weights"] in (
        "packed",
        "shared",
    )


def test_a_90_second_model_call_completes_with_no_restart(
    cluster: Cluster, long_release: str
) -> None:
    service = f"svc/{long_release}-corebound"
    with cluster.port_forward(NAMESPACE, service, 80) as port:
        trips = 20_000
        started = time.monotonic()
        call(port, "/v1/predict", {"inputs": [[trips]]})
        per_trip = (time.monotonic() - started) / trips
        trips = int(LONG_CALL_S / per_trip)
        answers: list[Any] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                call(port, "/v1/predict", {"inputs": [[trips]]}, timeout=LONG_CALL_S * 3)
            )
        )
        started = time.monotonic()
        worker.start()
        ages = []
        while worker.is_alive():
            ages.append(call(port, "/healthz")["call_age_s"] or 0)
            time.sleep(5)
        worker.join()
        took = time.monotonic() - started
    print(f"one call of {trips} trips took {took:.0f} s; /healthz saw calls up to {max(ages)} s")
    assert answers and len(answers[0]["outputs"]) == 1
    assert took >= LONG_CALL_S * 0.6 and max(ages) > 30  # past the 30 s a heartbeat allowed
    cluster.assert_no_restarts(NAMESPACE)
