"""The `helm test` Pod: a hook kept for `--logs`, waiting for a ready pod, its probe command
run against the real app."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import chart_tools as ct
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
    assert container["image"] == "corebound:0.1.0"  # the service image ships the probe
    assert container["command"][:4] == ["python", "-m", "service.probe", "predict"]
    assert container["command"][4] == f"{ct.SERVICE_URL}/v1/predict"


def test_pod_waits_for_a_ready_endpoint_first(test_pod: dict[str, Any]) -> None:
    """Review #10: right after `helm install` (no --wait) the test hit connection refused."""
    (wait,) = test_pod["spec"]["initContainers"]
    command = wait["command"]

    assert command[:4] == ["python", "-m", "service.probe", "endpoints"]
    assert command[command.index("--service") + 1] == ct.RELEASE
    assert command[command.index("--count") + 1] == "1"
    assert test_pod["spec"]["serviceAccountName"] == f"{ct.RELEASE}-probe"


def test_without_rbac_the_pods_wait_for_readyz_through_the_service() -> None:
    docs = ct.render({"probe": {"rbac": False}, "loadtest": {"enabled": True}})

    assert not [d for d in docs if d["kind"] in {"Role", "RoleBinding"}]
    for pod in ct.kinds(docs, "Pod"):
        command = pod["spec"]["initContainers"][0]["command"]
        assert command[3:5] == ["url", f"{ct.SERVICE_URL}/readyz"]
        assert pod["spec"]["automountServiceAccountToken"] is False


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
    pods = ct.kinds(docs, "Pod")

    assert sorted(p["metadata"]["name"] for p in pods) == [
        f"{ct.RELEASE}-loadtest",
        f"{ct.RELEASE}-test-predict",
    ]
    for pod in pods:
        assert {k: pod["spec"].get(k) for k in keys} == {k: service[k] for k in keys}
        images = {c["image"] for c in pod["spec"]["containers"] + pod["spec"]["initContainers"]}
        assert all(i.startswith("registry.example/ml/corebound") for i in images), images


@pytest.mark.slow
@pytest.mark.parametrize(("expected", "passes"), [("0", True), ("7", False)])
def test_the_pods_command_checks_the_real_answer(
    test_pod: dict[str, Any], live_service: str, expected: str, passes: bool
) -> None:
    """The rendered command itself, pointed at the real service under gunicorn."""
    command = test_pod["spec"]["containers"][0]["command"]
    command[4] = f"{live_service}/v1/predict"
    command[command.index("--expect") + 1] = expected

    run = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True, timeout=60, cwd=ct.REPO
    )

    assert (run.returncode == 0) is passes, run.stdout + run.stderr
    assert '"labels": ["0"]' in run.stdout
