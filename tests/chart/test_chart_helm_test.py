"""The `helm test` Pod: a hook kept for `--logs`, waiting for a ready pod, its model check run
against the real app: the embedded model, another model, and another model with samples."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chart_tools as ct
import numpy as np
import pytest


@pytest.fixture(scope="module")
def test_pod(default: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [p for p in ct.kinds(default, "Pod") if p["metadata"]["name"].endswith("-predict")]
    return pod


def test_pod_is_a_hook_kept_for_its_logs(test_pod: dict[str, Any]) -> None:
    """Review #4: hook-succeeded deleted the pod before `helm test --logs` read it."""
    annotations = test_pod["metadata"]["annotations"]

    assert annotations["helm.sh/hook"] == "test"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert annotations["sidecar.istio.io/inject"] == "false"
    assert test_pod["spec"]["restartPolicy"] == "Never"
    container = test_pod["spec"]["containers"][0]
    # The loadtest image: its model check is the load test's own (loadtests/modelcheck.py).
    assert container["image"] == f"ghcr.io/corebound/corebound-loadtest:{ct.APP_VERSION}"
    assert container["command"][:4] == ["python", "-m", "loadtests.modelcheck", ct.SERVICE_URL]


def test_pod_waits_for_a_ready_endpoint_first(test_pod: dict[str, Any]) -> None:
    """Review #10: right after `helm install` (no --wait) the test hit connection refused."""
    (wait,) = test_pod["spec"]["initContainers"]
    command = wait["command"]

    assert command[:4] == ["python", "-m", "service.probe", "endpoints"]
    assert command[command.index("--service") + 1] == ct.RELEASE
    assert command[command.index("--count") + 1] == "1"
    assert test_pod["spec"]["serviceAccountName"] == f"{ct.RELEASE}-probe"


def test_without_rbac_the_pods_wait_for_readyz_through_the_service() -> None:
    """The load test's workers always do; its master keeps its own account (its results)."""
    docs = ct.render({"probe": {"rbac": False}, "loadtest": {"enabled": True}})
    rbac = [d["metadata"]["name"] for d in docs if d["kind"] in {"Role", "RoleBinding"}]
    specs = dict(ct.pod_specs(docs))

    assert rbac == [f"{ct.RELEASE}-loadtest"] * 2
    without_token = [f"Pod/{ct.RELEASE}-test-predict", f"CronJob/{ct.RELEASE}-loadtest-workers"]
    for name in without_token:
        command = specs[name]["initContainers"][0]["command"]
        assert command[3:5] == ["url", f"{ct.SERVICE_URL}/readyz"], name
        assert specs[name]["automountServiceAccountToken"] is False, name
    master = specs[f"CronJob/{ct.RELEASE}-loadtest"]
    assert master["serviceAccountName"] == f"{ct.RELEASE}-loadtest"
    assert master["initContainers"][0]["command"][3] == "endpoints"


def test_probe_role_reads_only_endpointslices(default: list[dict[str, Any]]) -> None:
    role = ct.one(default, "Role")
    binding = ct.one(default, "RoleBinding")

    assert role["rules"] == [
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["get", "list"],
        }
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{ct.RELEASE}-probe", "namespace": ct.NAMESPACE}
    ]


@pytest.mark.parametrize("values_name", ["private-pool-values.yaml"])
def test_client_pods_pull_and_schedule_like_the_service(values_name: str) -> None:
    """Review #5: no pull secret, nodeSelector, tolerations or priority on the client pods."""
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / values_name))
    service = ct.one(docs, "Deployment")["spec"]["template"]["spec"]
    keys = ("imagePullSecrets", "nodeSelector", "tolerations", "priorityClassName")
    pods = {name: spec for name, spec in ct.pod_specs(docs) if not name.startswith("Deployment/")}

    assert sorted(pods) == [
        f"CronJob/{ct.RELEASE}-loadtest",
        f"CronJob/{ct.RELEASE}-loadtest-workers",
        f"Pod/{ct.RELEASE}-test-predict",
    ]
    for name, spec in pods.items():
        assert {k: spec.get(k) for k in keys} == {k: service[k] for k in keys}, name
        images = {c["image"] for c in spec["containers"] + spec["initContainers"]}
        assert all(i.startswith("registry.example/ml/corebound") for i in images), images


def test_samples_reach_the_pod_as_a_file(everything: list[dict[str, Any]]) -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "samples-values.yaml"))
    (pod,) = [p for p in ct.kinds(docs, "Pod") if p["metadata"]["name"].endswith("-predict")]
    container = pod["spec"]["containers"][0]
    command = container["command"]

    assert command[command.index("--samples") + 1] == "/samples/samples.json"
    assert container["volumeMounts"] == [
        {"name": "samples", "mountPath": "/samples", "readOnly": True}
    ]
    assert pod["spec"]["volumes"] == [
        {"name": "samples", "configMap": {"name": f"{ct.RELEASE}-samples"}}
    ]
    # Without samples the pod has no such volume (and no ConfigMap to miss).
    (plain,) = [
        p for p in ct.kinds(everything, "Pod") if p["metadata"]["name"].endswith("-predict")
    ]
    assert "--samples" not in plain["spec"]["containers"][0]["command"]
    assert "volumes" not in plain["spec"]


def run_check(command: list[str], url: str, samples: Path | None = None) -> tuple[bool, str]:
    """The rendered command run here, against `url` (and a local copy of the samples)."""
    command = [*command[1:3], url, *command[4:]]
    if samples is not None:
        command[command.index("--samples") + 1] = str(samples)
    run = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, timeout=60, cwd=ct.REPO
    )
    return run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="module")
def centroid_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another model than the defaults are for: 3 centroids of width 8 (examples/)."""
    from scripts.local.service import run_service

    model_dir = tmp_path_factory.mktemp("centroids")
    np.save(model_dir / "centroids.npy", np.stack([np.full(8, i, np.float32) for i in range(3)]))
    env = {"MODEL_CLASS": "examples.nearest_centroid:load", "MODEL_DIR": str(model_dir)}
    with run_service(env) as service:
        yield service.url


@pytest.mark.slow
@pytest.mark.parametrize(("expected", "passes"), [("0", True), ("7", False)])
def test_the_pods_command_checks_the_real_answer(
    test_pod: dict[str, Any], live_service: str, expected: str, passes: bool
) -> None:
    """The rendered command itself, pointed at the real service under gunicorn."""
    command = test_pod["spec"]["containers"][0]["command"]
    command[command.index("--expect") + 1] = expected

    ok, log = run_check(command, live_service)

    assert ok is passes, log
    assert '"label": "0"' in log and '"rows": "--inputs"' in log


@pytest.mark.slow
def test_the_defaults_do_not_fail_another_model(
    test_pod: dict[str, Any], centroid_service: str
) -> None:
    """test.inputs is the digits model's: another model gets zeros and its outputs checked."""
    ok, log = run_check(test_pod["spec"]["containers"][0]["command"], centroid_service)

    assert ok, log
    assert "is for model 'digits-mlp', not 'nearest-centroid': not sent" in log
    assert '"probabilities": [1, 3]' in log and '"rows": "zeros"' in log
    # test.model empty applies the digits row to any model: 64 numbers for an 8-wide input.
    docs = ct.render({"test": {"model": ""}})
    (pod,) = [p for p in ct.kinds(docs, "Pod") if p["metadata"]["name"].endswith("-predict")]
    ok, log = run_check(pod["spec"]["containers"][0]["command"], centroid_service)
    assert not ok and "must have shape [8]" in log, log


@pytest.mark.slow
def test_another_model_is_checked_with_the_first_sample(
    centroid_service: str, tmp_path: Path
) -> None:
    samples = {"inputs": {"input-0": [[2.1] * 8, [0.0] * 8]}, "labels": ["2", "0"]}
    docs = ct.render({"loadtest": {"samples": json.dumps(samples)}})
    (pod,) = [p for p in ct.kinds(docs, "Pod") if p["metadata"]["name"].endswith("-predict")]
    (configmap,) = [
        c for c in ct.kinds(docs, "ConfigMap") if c["metadata"]["name"].endswith("-samples")
    ]
    (tmp_path / "samples.json").write_text(configmap["data"]["samples.json"])

    ok, log = run_check(
        pod["spec"]["containers"][0]["command"], centroid_service, tmp_path / "samples.json"
    )

    assert ok, log
    assert '"expected": "2"' in log and '"label": "2"' in log
