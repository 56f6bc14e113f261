"""The on-demand load test Pod (a `helm test` hook), checked against the Dockerfile and CONTRACT."""

from __future__ import annotations

import json
import re
from typing import Any

import chart_tools as ct
import helm_python
import pytest


def dockerfile_stage(text: str, target: str) -> dict[str, list[str] | None]:
    """ENTRYPOINT and CMD (exec form) of one Dockerfile stage, following `FROM <stage>`."""
    instructions = re.sub(r"\\\n", " ", text).splitlines()
    stages: dict[str, dict[str, list[str] | None]] = {}
    current: dict[str, list[str] | None] = {}
    for line in instructions:
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        keyword, rest = words[0].upper(), (words[1] if len(words) > 1 else "")
        if keyword == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match
            parent = stages.get(match.group(1), {"ENTRYPOINT": None, "CMD": None})
            current = dict(parent)
            stages[match.group(2) or f"#{len(stages)}"] = current
        elif keyword in ("ENTRYPOINT", "CMD"):
            assert rest.startswith("["), f"{keyword} should be exec form: {rest}"
            current[keyword] = json.loads(rest)
            if keyword == "ENTRYPOINT":
                current["CMD"] = None  # a new ENTRYPOINT drops the inherited CMD
    return stages[target]


def contract_loadtest_cmd() -> tuple[list[str], list[str]]:
    image = ct.CONTRACT.split("## Image", 1)[1].split("\n## ", 1)[0]
    entrypoint = re.search(r"ENTRYPOINT (\[.*?\])", image, re.DOTALL)
    cmd = re.search(r"CMD (\[.*?\])", image, re.DOTALL)
    assert entrypoint and cmd
    return json.loads(entrypoint.group(1)), json.loads(cmd.group(1))


def loadtest_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pods = [d for d in ct.kinds(docs, "Pod") if d["metadata"]["name"].endswith("-loadtest")]
    assert len(pods) == 1, [d["metadata"]["name"] for d in ct.kinds(docs, "Pod")]
    return pods[0]


def loadtest_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = loadtest_pod(docs)["spec"]["containers"]
    assert [c["name"] for c in containers] == ["locust"]
    return containers[0]


def test_args_are_the_loadtest_image_cmd(everything: list[dict[str, Any]]) -> None:
    stage = dockerfile_stage((ct.REPO / "Dockerfile").read_text(), "loadtest")
    container = loadtest_container(everything)

    assert stage["ENTRYPOINT"] == ["locust"]
    assert "command" not in container  # the image's ENTRYPOINT runs
    assert container["args"] == stage["CMD"]


def test_args_match_the_contract(everything: list[dict[str, Any]]) -> None:
    entrypoint, cmd = contract_loadtest_cmd()

    assert entrypoint == ["locust"]
    assert loadtest_container(everything)["args"] == cmd


def test_runs_only_on_demand_and_is_kept_after_it_ends(everything: list[dict[str, Any]]) -> None:
    """Review #7/#11: a release Job re-ran on every upgrade and lost its logs; a test hook runs
    only under `helm test --filter`, and before-hook-creation alone keeps the ended pod."""
    pod = loadtest_pod(everything)
    annotations = pod["metadata"]["annotations"]

    assert ct.kinds(everything, "Job") == []
    assert annotations["helm.sh/hook"] == "test"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert int(annotations["helm.sh/hook-weight"]) > 0  # after the predict test
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert annotations["sidecar.istio.io/inject"] == "false"
    assert pod["metadata"]["name"] == f"{ct.RELEASE}-loadtest"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["activeDeadlineSeconds"] > 30 * 5  # outlasts the default steps


def test_settings_come_from_a_configmap() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    env = ct.container_env(docs, loadtest_container(docs))

    assert env == {
        "LOCUST_HOST": ct.SERVICE_URL,
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
    settings = ct.CONTRACT.split("## Load test settings", 1)[1]
    for name in env:
        assert f"`{name}`" in settings or name == "LOCUST_HOST", name


@pytest.mark.parametrize(
    ("values", "users"),
    [
        # 2 pods x 2 cores x 1000/3.16 req/s x 40 % x 2 = 1013 req/s; / 9 per user = 113 users
        # over 5 steps -> 23 per step.
        ({}, 23),
        ({"resources": {"cpu": 4}, "autoscaling": {"minReplicas": 3}}, 68),
        ({"autoscaling": {"enabled": False}, "replicaCount": 1}, 29),
        ({"loadtest": {"stepUsers": 7}}, 7),
    ],
)
def test_users_are_sized_from_the_capacity_plan(values: dict[str, Any], users: int) -> None:
    """Review #8: 50 users offered ~36 % CPU on 2 pods and never reached the HPA target."""
    docs = ct.render({**values, "loadtest": {"enabled": True, **values.get("loadtest", {})}})
    env = ct.container_env(docs, loadtest_container(docs))

    assert int(env["STEP_USERS"]) == users


def test_waits_for_the_ready_replicas_it_is_sized_for(everything: list[dict[str, Any]]) -> None:
    """Review #7: one ready pod, even an old one, used to be enough."""
    init = loadtest_pod(everything)["spec"]["initContainers"]

    assert [c["name"] for c in init] == ["wait-ready"]
    command = init[0]["command"]
    assert command[:4] == ["python", "-m", "service.probe", "endpoints"]
    assert command[command.index("--count") + 1] == "2"
    assert command[command.index("--service") + 1] == ct.RELEASE
    docs = ct.render({"loadtest": {"enabled": True, "readyReplicas": 5}})
    command = loadtest_pod(docs)["spec"]["initContainers"][0]["command"]
    assert command[command.index("--count") + 1] == "5"


@pytest.mark.parametrize(
    ("image", "loadtest_image", "expected"),
    [
        ({}, {}, "corebound-loadtest:0.1.0"),
        (
            {"repository": "registry.example/ml/corebound"},
            {},
            "registry.example/ml/corebound-loadtest:0.1.0",
        ),
        (
            {"repository": "r/corebound", "digest": "sha256:" + "a" * 64},
            {"tag": "9"},
            "r/corebound-loadtest:9",
        ),
        ({}, {"repository": "other/locust"}, "other/locust:0.1.0"),
    ],
)
def test_image_follows_the_service_repository(
    image: dict[str, Any], loadtest_image: dict[str, Any], expected: str
) -> None:
    """Review #5: loadtest.image.repository stayed on Docker Hub under a private registry."""
    docs = ct.render({"image": image, "loadtest": {"enabled": True, "image": loadtest_image}})
    pod = loadtest_pod(docs)["spec"]

    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {expected}


def test_no_load_test_by_default(default: list[dict[str, Any]]) -> None:
    assert ct.kinds(default, "Job") == []
    assert [p["metadata"]["name"] for p in ct.kinds(default, "Pod")] == [
        f"{ct.RELEASE}-test-predict"
    ]
    assert [c["metadata"]["name"] for c in ct.kinds(default, "ConfigMap")] == [ct.RELEASE]


def test_samples_become_a_file_the_run_reads() -> None:
    """loadtest.samples, as `--set-file` gives it, reaches Locust as SAMPLES_FILE."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "samples-values.yaml")
    docs = ct.render(values)
    pod = loadtest_pod(docs)
    configmaps = {c["metadata"]["name"]: c["data"] for c in ct.kinds(docs, "ConfigMap")}

    assert configmaps[f"{ct.RELEASE}-samples"] == {"samples.json": values["loadtest"]["samples"]}
    assert json.loads(values["loadtest"]["samples"])["label_output"] == "sentiment"
    container = loadtest_container(docs)
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


def test_without_samples_the_rows_follow_the_model(everything: list[dict[str, Any]]) -> None:
    env = ct.container_env(everything, loadtest_container(everything))

    assert "SAMPLES_FILE" not in env and "MODEL_NAME" not in env  # learned from the server
    assert not [c for c in ct.kinds(everything, "ConfigMap") if "samples" in c["metadata"]["name"]]
