"""The Deployment's options the live-cluster review found missing or wrong: preStop 0, labels
that survive a chart bump, maxSurge, the HPA switch, IPv6 bind, bring-your-own model."""

from __future__ import annotations

from typing import Any

import chart_tools as ct
import pytest


def pod_template(docs: list[dict[str, Any]]) -> dict[str, Any]:
    template: dict[str, Any] = ct.one(docs, "Deployment")["spec"]["template"]
    return template


@pytest.mark.parametrize("kube_version", ["1.29.0", "1.30.0", "1.32.0", "1.33.0"])
def test_pre_stop_zero_leaves_the_hook_out(kube_version: str) -> None:
    """Review #2: `sleep: {seconds: 0}` passed the schema but 1.30-1.32 API servers refuse it."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "prestop-zero-values.yaml")
    docs = ct.render(values, kube_version=kube_version)
    container = ct.server_container(docs)

    assert "lifecycle" not in container
    assert pod_template(docs)["spec"]["terminationGracePeriodSeconds"] == 0 + 30 + 10


def test_pod_template_is_the_same_across_chart_versions(default: list[dict[str, Any]]) -> None:
    """Review #16: the chart version in pod labels restarted the fleet on every chart bump."""
    labels = pod_template(default)["metadata"]["labels"]

    assert labels == {
        "app.kubernetes.io/name": "corebound",
        "app.kubernetes.io/instance": ct.RELEASE,
        "app.kubernetes.io/managed-by": "Helm",
    }
    for pod in ct.kinds(default, "Pod"):
        assert "helm.sh/chart" not in pod["metadata"]["labels"]
    # The objects themselves still say which chart made them.
    assert ct.one(default, "Deployment")["metadata"]["labels"]["helm.sh/chart"].startswith(
        "corebound-"
    )


def test_rollouts_surge_a_quarter(default: list[dict[str, Any]]) -> None:
    """Review #13: maxSurge 1 took 20 x ~60 s for 20 pods, past `helm upgrade --wait`'s 5 m."""
    strategy = ct.one(default, "Deployment")["spec"]["strategy"]["rollingUpdate"]

    assert strategy == {"maxSurge": "25%", "maxUnavailable": 0}


def test_hpa_keeps_the_live_replica_count() -> None:
    """Review #6: switching the HPA on in an upgrade dropped `replicas` (Helm sent null: 1 pod).

    Without a cluster `lookup` is empty, so only the template's use of it is visible here; the
    live check is the cluster test named in the report.
    """
    helper = (ct.CHART_DIR / "templates" / "_pods.tpl").read_text()
    docs = ct.render()

    # corebound.replicas, which the service's and the job workers' Deployments call.
    assert 'lookup "apps/v1" "Deployment" $.Release.Namespace (index . 1)' in helper
    for name in ("deployment.yaml", "jobs-deployment.yaml"):
        assert 'include "corebound.replicas"' in (ct.CHART_DIR / "templates" / name).read_text()
    assert "replicas" not in ct.one(docs, "Deployment")["spec"]  # `helm template`, GitOps
    off = ct.render({"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert ct.one(off, "Deployment")["spec"]["replicas"] == 3


@pytest.mark.parametrize(("address", "args"), [("0.0.0.0", None), ("[::]", "--bind [::]:8000")])
def test_listen_address(address: str, args: str | None) -> None:
    """Review #16: IPv4-only bind; `[::]` serves IPv6-only and dual-stack clusters."""
    docs = ct.render({"listenAddress": address})

    assert ct.container_env(docs, ct.server_container(docs)).get("GUNICORN_CMD_ARGS") == args


def test_a_model_fetched_by_an_init_container() -> None:
    """Review #15: model.dir could only point inside the image; extra env, volumes, init."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "model-from-url-values.yaml")
    docs = ct.render(values)
    spec = pod_template(docs)["spec"]
    container = ct.server_container(docs)
    env = ct.container_env(docs, container)

    assert [c["name"] for c in spec["initContainers"]] == ["fetch-model"]
    fetch = spec["initContainers"][0]
    assert {"name": "models", "mountPath": "/models"} in fetch["volumeMounts"]
    assert {"name": "models", "emptyDir": {"sizeLimit": "1Gi"}} in spec["volumes"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]
    assert env["MODEL_DIR"] == "/models/digits"
    assert env["LOG_LEVEL"] == "info"
    # The chart's own mounts and env stay.
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/run/prometheus"}
    assert [e["name"] for e in container["env"]][:2] == ["WEB_CONCURRENCY", "OMP_NUM_THREADS"]


def test_extra_env_wins_over_the_configmap() -> None:
    docs = ct.render({"extraEnv": [{"name": "MAX_BODY_BYTES", "value": "262144"}]})
    container = ct.server_container(docs)

    # `env` entries override `envFrom` in Kubernetes; container_env applies them last too.
    assert ct.container_env(docs, container)["MAX_BODY_BYTES"] == "262144"


def test_openshift_values_leave_the_user_to_the_platform() -> None:
    """Review #16: fixed runAsUser is refused by OpenShift's restricted-v2; null removes it."""
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "openshift-values.yaml"))

    for name, spec in ct.pod_specs(docs):
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        for container in spec["containers"] + spec.get("initContainers", []):
            assert not {"runAsUser", "runAsGroup"} & set(container["securityContext"]), name
