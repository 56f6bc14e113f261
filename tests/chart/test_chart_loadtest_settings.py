"""The load test's settings (one ConfigMap both roles read), its sizing, image, samples and
resources, and the values it refuses."""

from __future__ import annotations

import json
from typing import Any

import chart_tools as ct
import helm_python
import pytest

ROLES = ("master", "worker")
SETTINGS = f"{ct.RELEASE}-loadtest"


def settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    (configmap,) = [c for c in ct.kinds(docs, "ConfigMap") if c["metadata"]["name"] == SETTINGS]
    data: dict[str, str] = configmap["data"]
    return data


@pytest.mark.parametrize("role", ROLES)
def test_settings_come_from_a_configmap(role: str) -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    container = ct.locust_container(docs, role)

    assert container["envFrom"] == [{"configMapRef": {"name": SETTINGS}}]
    assert settings(docs) == {
        "LOCUST_HOST": ct.SERVICE_URL,
        "LOAD_SHAPE": "step",
        "STEP_USERS": "20",
        "STEP_SECONDS": "30",
        "STEP_COUNT": "6",
        "SPAWN_RATE": "10",
        "ROWS_PER_REQUEST": "1",
        "WEIGHT_V1_PREDICT": "3",
        "WEIGHT_V2_INFER": "1",
        "RECYCLE_EVERY": "50",
        "SLO_MAX_FAILURE_RATIO": "0.005",
        "SLO_P95_MS": "200",
        "SLO_P99_MS": "400",
    }
    # Every setting is the image's (docs/CONTRACT.md "Image" and "Load test settings").
    documented = ct.CONTRACT.split("## Image", 1)[1]
    for name in settings(docs):
        assert f"`{name}`" in documented, name
    # The role's own env is Locust's, never a setting the ConfigMap already gives.
    assert not {e["name"] for e in container["env"]} & set(settings(docs))


def test_shape_and_extra_settings_reach_both_roles() -> None:
    """loadtest.shape picks LOAD_SHAPE; loadtest.env adds settings the chart has no value for."""
    extra = {"SPIKE_PEAK_USERS": "400", "SPIKE_AT_SECONDS": "60", "MODEL_NAME": "digits-mlp"}
    docs = ct.render({"loadtest": {"enabled": True, "shape": "spike", "env": extra}})
    data = settings(docs)

    assert data["LOAD_SHAPE"] == "spike"
    assert {k: data[k] for k in extra} == extra
    for role in ROLES:
        env = ct.container_env(docs, ct.locust_container(docs, role))
        assert env["LOAD_SHAPE"] == "spike" and env["SPIKE_PEAK_USERS"] == "400", role
    for name in extra:
        assert f"`{name}`" in ct.CONTRACT, name
    # A changed setting rolls into the next run's pods (the CronJobs' templates change).
    before = ct.render({"loadtest": {"enabled": True}})
    for role in ROLES:
        checksum = "checksum/config"
        assert (
            ct.loadtest_pod(docs, role)["metadata"]["annotations"][checksum]
            != ct.loadtest_pod(before, role)["metadata"]["annotations"][checksum]
        )


@pytest.mark.parametrize(
    ("values", "users"),
    [
        # 2 pods x 2 cores x 1000/0.86 req/s x 50 % x 2 = 4651 req/s; / 9.5 per user = 490
        # users over 5 steps -> 98 per step.
        ({}, 98),
        # 3 pods x 4 cores: 13953 req/s -> 1469 users -> 294 per step.
        ({"resources": {"cpu": 4}, "autoscaling": {"minReplicas": 3}}, 294),
        # 1 pod x 2 cores at 100 % (no HPA target) x 2 = 4651 req/s again -> 98.
        ({"autoscaling": {"enabled": False}, "replicaCount": 1}, 98),
        ({"loadtest": {"stepUsers": 7}}, 7),
    ],
)
def test_users_are_sized_from_the_capacity_plan(values: dict[str, Any], users: int) -> None:
    """Review #8: 50 users offered ~36 % CPU on 2 pods and never reached the HPA target."""
    docs = ct.render({**values, "loadtest": {"enabled": True, **values.get("loadtest", {})}})

    assert int(settings(docs)["STEP_USERS"]) == users


@pytest.mark.parametrize(
    ("image", "loadtest_image", "expected"),
    [
        ({}, {}, f"ghcr.io/corebound/corebound-loadtest:{ct.APP_VERSION}"),
        (
            {"repository": "registry.example/ml/corebound"},
            {},
            f"registry.example/ml/corebound-loadtest:{ct.APP_VERSION}",
        ),
        (
            {"repository": "r/corebound", "digest": "sha256:" + "a" * 64},
            {"tag": "9"},
            "r/corebound-loadtest:9",
        ),
        ({}, {"repository": "other/locust"}, f"other/locust:{ct.APP_VERSION}"),
    ],
)
def test_image_follows_the_service_repository(
    image: dict[str, Any], loadtest_image: dict[str, Any], expected: str
) -> None:
    """Review #5: loadtest.image.repository stayed on Docker Hub under a private registry."""
    docs = ct.render({"image": image, "loadtest": {"enabled": True, "image": loadtest_image}})

    for role in ROLES:
        pod = ct.loadtest_pod(docs, role)["spec"]
        assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {expected}, role


@pytest.mark.parametrize("role", ROLES)
def test_samples_become_a_file_the_run_reads(role: str) -> None:
    """loadtest.samples, as `--set-file` gives it, reaches Locust as SAMPLES_FILE: the workers
    send its rows, the master learns the model from the same file."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "samples-values.yaml")
    docs = ct.render(values)
    pod = ct.loadtest_pod(docs, role)
    configmaps = {c["metadata"]["name"]: c.get("data") for c in ct.kinds(docs, "ConfigMap")}

    assert configmaps[f"{ct.RELEASE}-samples"] == {"samples.json": values["loadtest"]["samples"]}
    assert json.loads(values["loadtest"]["samples"])["label_output"] == "sentiment"
    container = ct.locust_container(docs, role)
    assert ct.container_env(docs, container)["SAMPLES_FILE"] == "/samples/samples.json"
    mount = {"name": "samples", "mountPath": "/samples", "readOnly": True}
    assert mount in container["volumeMounts"]
    volume = {"name": "samples", "configMap": {"name": f"{ct.RELEASE}-samples"}}
    assert volume in pod["spec"]["volumes"]


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ("{not json", "loadtest.samples must be a samples file's JSON"),
        ('{"rows": [[1, 2]]}', 'no "inputs" object'),
        ("[1, 2]", "loadtest.samples must be a samples file's JSON"),
        ("x" * 1_000_001, "/loadtest/samples"),  # over a ConfigMap's limit
    ],
)
def test_bad_samples_are_refused_at_install(samples: str, message: str) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render({"loadtest": {"enabled": True, "samples": samples}})

    assert message in str(refused.value)


@pytest.mark.parametrize("role", ROLES)
def test_without_samples_the_rows_follow_the_model(
    everything: list[dict[str, Any]], role: str
) -> None:
    container = ct.locust_container(everything, role)
    env = ct.container_env(everything, container)

    assert "SAMPLES_FILE" not in env and "MODEL_NAME" not in env  # learned from the server
    assert [m["name"] for m in container["volumeMounts"]] == ["tmp"]
    assert not [c for c in ct.kinds(everything, "ConfigMap") if "samples" in c["metadata"]["name"]]


@pytest.mark.parametrize(
    ("values", "worker", "master"),
    [
        ({}, ("1", "512Mi"), ("250m", "256Mi")),
        (
            {"cpu": "500m", "memoryMiB": 768, "master": {"cpu": 2, "memoryMiB": 1024}},
            ("500m", "768Mi"),
            ("2", "1024Mi"),
        ),
    ],
)
def test_resources_are_the_roles_own(
    values: dict[str, Any], worker: tuple[str, str], master: tuple[str, str]
) -> None:
    """A worker is one Locust process on one core; the master only adds up their stats."""
    docs = ct.render({"loadtest": {"enabled": True, **values}})

    for role, (cpu, memory) in (("worker", worker), ("master", master)):
        resources = ct.locust_container(docs, role)["resources"]
        assert resources["requests"] == resources["limits"] == {"cpu": cpu, "memory": memory}


@pytest.mark.parametrize("cpu", [2, "1.5", "1001m"])
def test_a_worker_above_one_core_is_refused(cpu: Any) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render({"loadtest": {"enabled": True, "cpu": cpu}})

    assert f"loadtest.cpu ({cpu}) must be at most 1" in str(refused.value)
    assert "raise loadtest.workers for more load" in str(refused.value)


@pytest.mark.parametrize("cpu", [1, "1000m", "0.5"])
def test_a_worker_up_to_one_core_is_accepted(cpu: Any) -> None:
    docs = ct.render({"loadtest": {"enabled": True, "cpu": cpu}})

    assert ct.locust_container(docs, "worker")["resources"]["limits"]["cpu"] == str(cpu)


def test_a_malformed_master_cpu_is_refused() -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render({"loadtest": {"enabled": True, "master": {"cpu": "lots"}}})

    assert "cpu" in str(refused.value)


def test_extra_settings_may_not_repeat_one_the_chart_sets() -> None:
    """The validation's list is every name the settings ConfigMap renders from values."""
    samples = json.dumps({"inputs": {"input-0": [[0.0] * 64]}})
    rendered = settings(ct.render({"loadtest": {"enabled": True, "samples": samples}}))
    template = (ct.CHART_DIR / "templates" / "_validations.tpl").read_text()
    listed = template.split('$chartSets := list "', 1)[1].split(" }}", 1)[0]

    assert sorted(listed.replace('"', "").split()) == sorted(rendered)
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render({"loadtest": {"enabled": True, "env": {"SLO_P99_MS": "300"}}})
    assert "loadtest.env.SLO_P99_MS: the chart sets SLO_P99_MS" in str(refused.value)
