"""k8s/components/jobs: the chart's job API (jobs.enabled=true) as a kustomize Component. Built
onto the base by the real `kubectl kustomize`, it is valid, holds the chart's objects but the
password Secret, and patches the API pods to the chart's job settings and memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import chart_tools as ct
import pytest
import yaml
from test_k8s_manifests import kustomize

COMPONENT = ct.K8S_DIR / "components" / "jobs"
JOBS = {"jobs": {"enabled": True}}
PLAIN_KINDS = ("Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler", "NetworkPolicy")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The base with the component, as an overlay adds it (`components: [...]`)."""
    root = tmp_path_factory.mktemp("k8s")
    shutil.copytree(ct.K8S_DIR / "base", root / "base")
    shutil.copytree(COMPONENT, root / "components" / "jobs")
    (root / "overlay").mkdir()
    (root / "overlay" / "kustomization.yaml").write_text(
        "resources: [../base]\ncomponents: [../components/jobs]\n"
    )
    return kustomize(root / "overlay")


@pytest.fixture(scope="module")
def chart() -> list[dict[str, Any]]:
    return ct.render(JOBS)


def by_name(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in ct.kinds(docs, kind)}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


@pytest.mark.parametrize("kube_version", ct.KUBE_VERSIONS)
def test_base_with_jobs_validates_strictly(built: list[dict[str, Any]], kube_version: str) -> None:
    assert ct.validate_strict(built, kube_version) == []


def test_it_holds_the_charts_job_objects_but_the_secret(
    built: list[dict[str, Any]], chart: list[dict[str, Any]]
) -> None:
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    names = {(d["kind"], d["metadata"]["name"]) for d in built if d["kind"] in PLAIN_KINDS}

    assert kustomization["kind"] == "Component"
    assert names == {(d["kind"], d["metadata"]["name"]) for d in chart if d["kind"] in PLAIN_KINDS}
    # A generated password would be one value published in the repository: the user makes it.
    assert ct.kinds(built, "Secret") == []
    assert (
        "kubectl create secret generic corebound-redis"
        in (COMPONENT / "kustomization.yaml").read_text()
    )
    for doc in built:
        assert "helm.sh/chart" not in doc["metadata"].get("labels", {})


def test_the_api_gets_the_charts_job_settings_and_memory(
    built: list[dict[str, Any]], chart: list[dict[str, Any]]
) -> None:
    server, expected = ct.server_container(built), ct.server_container(chart)

    # The same entries in the same order: $(REDIS_PASSWORD) is defined before REDIS_URL.
    assert server["env"] == expected["env"]
    assert server["resources"] == expected["resources"]
    base = ct.server_container(kustomize(ct.K8S_DIR / "base"))
    assert ct.mib(server["resources"]["limits"]["memory"]) > ct.mib(
        base["resources"]["limits"]["memory"]
    )


def test_workers_and_redis_are_the_charts(
    built: list[dict[str, Any]], chart: list[dict[str, Any]]
) -> None:
    generated = ct.service_deployment(built)["spec"]["template"]["spec"]["containers"][0]
    worker = container(by_name(built, "Deployment")[f"{ct.RELEASE}-jobs"])
    expected = container(by_name(chart, "Deployment")[f"{ct.RELEASE}-jobs"])

    # kustomize renames the settings ConfigMap it generates in the workers' envFrom too.
    assert worker["envFrom"] == generated["envFrom"] != expected["envFrom"]
    for key in ("image", "command", "env", "resources", "livenessProbe", "volumeMounts"):
        assert worker[key] == expected[key], key
    redis = by_name(built, "StatefulSet")[f"{ct.RELEASE}-redis"]
    chart_redis = by_name(chart, "StatefulSet")[f"{ct.RELEASE}-redis"]
    assert container(redis) == container(chart_redis)
    claims = [d["spec"]["volumeClaimTemplates"] for d in (redis, chart_redis)]
    assert claims[0] == claims[1]
    assert (
        by_name(built, "ConfigMap")[f"{ct.RELEASE}-redis"]["data"]
        == by_name(chart, "ConfigMap")[f"{ct.RELEASE}-redis"]["data"]
    )


def test_the_component_is_a_target_of_the_manifests_command() -> None:
    from scripts.manifests.render import JOBS as TARGET
    from scripts.manifests.render import TARGETS

    assert TARGET in TARGETS and TARGET.directory == COMPONENT
    assert sorted(p.name for p in COMPONENT.iterdir()) == sorted(
        [*(f"{Path(n).name}" for n in yaml.safe_load(
            (COMPONENT / "kustomization.yaml").read_text())["resources"]),
         "api-jobs.yaml", "kustomization.yaml"]
    )  # fmt: skip
