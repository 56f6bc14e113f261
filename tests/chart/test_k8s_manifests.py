"""k8s/: the base is the chart's default render (no drift), and every overlay built by the
real `kubectl kustomize` is valid and sized exactly as the chart sizes the same inputs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import chart_tools as ct
import pytest
import yaml

from scripts.manifests.render import BASE, Target, drift
from service.sizing.formula import packed_plan, parse_cpu_quantity

# overlay -> the chart values it stands for (its kustomization.yaml says the same).
OVERLAYS: dict[str, dict[str, Any]] = {
    "small": {"resources": {"cpu": 1}},
    "large": {
        "resources": {"cpu": 4},
        "model": {"sizeMiB": 500},
        "autoscaling": {"maxReplicas": 20},
    },
}


def kustomize(path: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        [ct.kubectl(), "kustomize", str(path)], check=True, capture_output=True, text=True
    )
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def without_loadtest(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The service's objects: what the overlays add from k8s/components/loadtest left out."""
    return [
        d
        for d in docs
        if not d["metadata"]
        .get("labels", {})
        .get("app.kubernetes.io/component", "")
        .startswith("loadtest")
    ]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize(ct.K8S_DIR / "base")


def test_base_has_not_drifted_from_the_chart() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "scripts.manifests", "--check"],
        capture_output=True, text=True, cwd=ct.REPO,
    )  # fmt: skip

    assert check.returncode == 0, check.stderr


def test_drift_check_notices_an_edit(tmp_path: Path) -> None:
    copy = tmp_path / "base"
    shutil.copytree(ct.K8S_DIR / "base", copy)
    deployment = copy / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("memory: 399Mi", "memory: 400Mi"))
    (copy / "extra.yaml").write_text("kind: ConfigMap\n")
    (copy / "service.yaml").unlink()

    assert drift(Target(copy, BASE.values, BASE.templates, BASE.kind, BASE.generated_config)) == [
        "service.yaml: missing",
        "extra.yaml: not produced by the chart",
        "deployment.yaml: differs from the chart's render",
    ]


def test_base_is_the_default_render_without_helm_parts(base: list[dict[str, Any]]) -> None:
    chart = [
        d
        for d in ct.render()
        if "helm.sh/hook" not in d["metadata"].get("annotations", {})
        and not d["metadata"]["name"].endswith("-probe")  # only the helm test pods use it
    ]
    generated = ct.one(base, "ConfigMap")["metadata"]["name"]

    # Review #14: kustomize's generator suffixes the content hash, so an env change rolls pods.
    assert re.fullmatch(rf"{ct.RELEASE}-[a-z0-9]{{10}}", generated)
    assert ct.server_container(base)["envFrom"] == [{"configMapRef": {"name": generated}}]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in base) == sorted(
        (d["kind"], d["metadata"]["name"] if d["kind"] != "ConfigMap" else generated) for d in chart
    )
    for doc in base:
        assert "namespace" not in doc["metadata"]
        assert "helm.sh/chart" not in doc["metadata"].get("labels", {})
    assert ct.one(base, "Deployment")["spec"] == {
        **ct.one(chart, "Deployment")["spec"],
        "template": ct.one(base, "Deployment")["spec"]["template"],
    }
    assert ct.one(base, "ConfigMap")["data"] == ct.one(chart, "ConfigMap")["data"]


@pytest.mark.parametrize("target", ["base", *(f"overlays/{name}" for name in OVERLAYS)])
@pytest.mark.parametrize("kube_version", ct.KUBE_VERSIONS)
def test_kustomize_output_validates_strictly(target: str, kube_version: str) -> None:
    docs = kustomize(ct.K8S_DIR / target)

    assert len(docs) >= 6
    assert ct.validate_strict(docs, kube_version) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_is_sized_like_the_chart(name: str, base: list[dict[str, Any]]) -> None:
    overlay = without_loadtest(kustomize(ct.K8S_DIR / "overlays" / name))
    chart = ct.render(OVERLAYS[name])

    container, chart_container = ct.server_container(overlay), ct.server_container(chart)
    assert container["resources"] == chart_container["resources"]
    assert container["startupProbe"] == chart_container["startupProbe"]
    assert ct.one(overlay, "ConfigMap")["data"] == ct.one(chart, "ConfigMap")["data"]
    assert (
        ct.one(overlay, "HorizontalPodAutoscaler")["spec"]
        == ct.one(chart, "HorizontalPodAutoscaler")["spec"]
    )

    env = ct.container_env(overlay, container)
    values = ct.default_values()
    expected = packed_plan(
        parse_cpu_quantity(container["resources"]["limits"]["cpu"]),
        OVERLAYS[name].get("model", {}).get("sizeMiB", values["model"]["sizeMiB"]),
    )
    assert (int(env["WEB_CONCURRENCY"]), int(env["OMP_NUM_THREADS"])) == (
        expected.workers,
        expected.threads,
    )
    assert ct.mib(container["resources"]["limits"]["memory"]) == expected.memory_mib


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_sets_its_namespace_and_keeps_selectors(
    name: str, base: list[dict[str, Any]]
) -> None:
    everything = kustomize(ct.K8S_DIR / "overlays" / name)
    overlay = without_loadtest(everything)
    kustomization = yaml.safe_load(
        (ct.K8S_DIR / "overlays" / name / "kustomization.yaml").read_text()
    )

    # Review #3: `kubectl apply -k` failed on a fresh cluster without the Namespace.
    namespace = ct.one(overlay, "Namespace")
    assert namespace["metadata"]["name"] == f"corebound-{name}"
    assert {d["metadata"]["namespace"] for d in everything if d is not namespace} == {
        namespace["metadata"]["name"]
    }
    assert "patches" in kustomization and "commonLabels" not in kustomization
    assert all(not group.get("includeSelectors", False) for group in kustomization["labels"])
    assert (
        ct.one(overlay, "Deployment")["spec"]["selector"]
        == ct.one(base, "Deployment")["spec"]["selector"]
    )
    assert (
        ct.one(overlay, "Service")["spec"]["selector"]
        == ct.one(base, "Service")["spec"]["selector"]
    )


def test_an_overlay_env_change_renames_the_configmap(tmp_path: Path) -> None:
    """Review #14: the base's frozen checksum let an env-only overlay roll no pods."""
    base = tmp_path / "base"
    shutil.copytree(ct.K8S_DIR / "base", base)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../base]\n"
        "configMapGenerator:\n"
        "  - name: corebound\n    behavior: merge\n    literals: [MAX_BATCH_SIZE=8]\n"
    )
    changed = kustomize(overlay)
    original = kustomize(base)

    new_name = ct.one(changed, "ConfigMap")["metadata"]["name"]
    assert ct.one(changed, "ConfigMap")["data"]["MAX_BATCH_SIZE"] == "8"
    assert new_name != ct.one(original, "ConfigMap")["metadata"]["name"]
    assert ct.server_container(changed)["envFrom"] == [{"configMapRef": {"name": new_name}}]


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlays_offer_the_charts_load_test_in_their_namespace(name: str) -> None:
    overlay = kustomize(ct.K8S_DIR / "overlays" / name)
    chart = ct.render({"loadtest": {"enabled": True}})
    loadtest = [d for d in overlay if d not in without_loadtest(overlay)]

    assert sorted(
        (d["kind"], d["metadata"]["name"]) for d in loadtest if d["kind"] != "ConfigMap"
    ) == sorted(
        (d["kind"], d["metadata"]["name"])
        for d in chart
        if d["kind"] in ("CronJob", "Role", "RoleBinding", "ServiceAccount", "Service")
        and d["metadata"]["name"].startswith(f"{ct.RELEASE}-loadtest")
    )
    binding = ct.one(loadtest, "RoleBinding")
    assert binding["subjects"][0]["namespace"] == f"corebound-{name}"
    # The settings ConfigMap is generated (hashed name) and the CronJobs point at it.
    settings = next(
        d for d in loadtest if d["kind"] == "ConfigMap" and "LOCUST_HOST" in d.get("data", {})
    )
    for cronjob in (d for d in loadtest if d["kind"] == "CronJob"):
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["containers"][0]["envFrom"] == [
            {"configMapRef": {"name": settings["metadata"]["name"]}}
        ]
        assert cronjob["spec"]["suspend"] is True


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_images_name_the_published_images_at_the_app_version(name: str) -> None:
    """An `images:` entry whose name matches no container changes nothing, silently: each
    names an image the base and the load test component run, at the chart's appVersion."""
    kustomization = yaml.safe_load(
        (ct.K8S_DIR / "overlays" / name / "kustomization.yaml").read_text()
    )
    version = ct.APP_VERSION
    published = ct.default_values()["image"]["repository"]
    overlay = kustomize(ct.K8S_DIR / "overlays" / name)

    assert kustomization["images"] == [
        {"name": published, "newTag": version},
        {"name": f"{published}-loadtest", "newTag": version},
    ]
    assert {
        c["image"]
        for _, spec in ct.pod_specs(overlay)
        for c in spec["containers"] + spec.get("initContainers", [])
    } == {f"{published}:{version}", f"{published}-loadtest:{version}"}
