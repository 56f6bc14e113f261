"""The distributed load test: a master and a worker CronJob, suspended, each run a Job of each;
checked against the Dockerfile, the CONTRACT and loadtests/publish.py."""

from __future__ import annotations

import json
import re
from typing import Any

import chart_tools as ct
import pytest

from loadtests import publish

RESULTS = f"{ct.RELEASE}-loadtest-results"
MASTER_HOST = f"{ct.RELEASE}-loadtest-master"
ROLES = ("master", "worker")


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


def env_entries(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("role", ROLES)
def test_args_are_the_loadtest_image_cmd(everything: list[dict[str, Any]], role: str) -> None:
    stage = dockerfile_stage((ct.REPO / "Dockerfile").read_text(), "loadtest")

    assert stage["ENTRYPOINT"] == ["locust"]
    assert stage["CMD"] and "loadtests/shapes/selected.py" in stage["CMD"][1]  # LOAD_SHAPE picks
    assert ct.locust_container(everything, role)["args"] == stage["CMD"]


@pytest.mark.parametrize("role", ROLES)
def test_args_match_the_contract(everything: list[dict[str, Any]], role: str) -> None:
    entrypoint, cmd = contract_loadtest_cmd()

    assert entrypoint == ["locust"]
    assert ct.locust_container(everything, role)["args"] == cmd


def test_workers_run_the_image_entrypoint_and_the_master_runs_it_under_the_publisher(
    everything: list[dict[str, Any]],
) -> None:
    """The master's Job status is Locust's exit code (the SLO verdict), its reports are kept."""
    entrypoint, cmd = contract_loadtest_cmd()
    master = ct.locust_container(everything, "master")
    configmaps = {c["metadata"]["name"] for c in ct.kinds(everything, "ConfigMap")}

    assert "command" not in ct.locust_container(everything, "worker")  # the image's ENTRYPOINT
    command = master["command"]
    assert command[:3] == ["python", "-m", "loadtests.publish"]
    assert command[-len(entrypoint) :] == entrypoint
    # What the publisher itself makes of the rendered command line.
    parsed = publish.parse_args([*command[3:], *master["args"]])
    assert parsed.configmap == RESULTS and RESULTS in configmaps
    # Rendered empty: an upgrade's three-way merge leaves the last run's results alone.
    (results,) = [c for c in ct.kinds(everything, "ConfigMap") if c["metadata"]["name"] == RESULTS]
    assert not {"data", "binaryData"} & set(results)
    assert parsed.namespace is None  # the pod's own
    assert parsed.command == [*entrypoint, *cmd]
    # It finds Locust's reports where Locust writes them: the writable /tmp emptyDir.
    for flag in ("--csv", "--html"):
        assert (publish.option(parsed.command, flag) or "").startswith("/tmp/"), flag
    assert {"name": "tmp", "mountPath": "/tmp"} in master["volumeMounts"]


@pytest.mark.parametrize("role", ROLES)
def test_runs_only_on_demand_one_at_a_time(everything: list[dict[str, Any]], role: str) -> None:
    """Nothing runs on install or upgrade: `kubectl create job --from=cronjob/...` makes a run."""
    spec = ct.cronjob(everything, role)["spec"]

    assert spec["suspend"] is True
    assert spec["schedule"] == "0 0 30 2 *"  # February 30th: never, even if unsuspended
    assert spec["concurrencyPolicy"] == "Forbid"
    assert ct.kinds(everything, "Job") == []
    assert not [p for p in ct.kinds(everything, "Pod") if "loadtest" in p["metadata"]["name"]]


@pytest.mark.parametrize("role", ROLES)
def test_a_schedule_runs_it_by_itself(role: str) -> None:
    docs = ct.render({"loadtest": {"enabled": True, "schedule": "0 3 * * *"}})
    spec = ct.cronjob(docs, role)["spec"]

    assert (spec["suspend"], spec["schedule"]) == (False, "0 3 * * *")
    assert spec["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize("role", ROLES)
def test_a_run_is_judged_once_and_kept_after_it_ends(
    everything: list[dict[str, Any]], role: str
) -> None:
    job = ct.loadtest_job(everything, role)
    pod = job["template"]

    assert job["backoffLimit"] == 0  # a retried pod would start another run
    assert job["activeDeadlineSeconds"] == 3600
    assert job["ttlSecondsAfterFinished"] >= 3600  # the ended pods and logs stay a while
    assert pod["spec"]["restartPolicy"] == "Never"
    annotations = pod["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert annotations["sidecar.istio.io/inject"] == "false"
    docs = ct.render({"loadtest": {"enabled": True, "deadlineSeconds": 7200}})
    assert ct.loadtest_job(docs, role)["activeDeadlineSeconds"] == 7200


@pytest.mark.parametrize(
    ("values", "workers"),
    [
        # The last step: stepUsers x stepCount users x 9.5 req/s each, over 2100 req/s a worker.
        # Defaults: 98 users x 5 steps = 490 users x 9.5 = 4655 req/s -> 2.2 -> 3 workers.
        ({}, 3),
        # 294 users a step (test_chart_loadtest_settings) x 5 x 9.5 = 13965 req/s -> 7 workers.
        ({"resources": {"cpu": 4}, "autoscaling": {"minReplicas": 3}}, 7),
        # 7 x 5 x 9.5 = 332.5 req/s -> 1 worker.
        ({"loadtest": {"stepUsers": 7}}, 1),
        # 4655 req/s over 250 a worker = 18.6 -> 19 workers.
        ({"loadtest": {"plan": {"workerRequestsPerSecond": 250}}}, 19),
        # 210 x 10 steps x 2 req/s = 4200 req/s: exactly 2 workers, not 3.
        (
            {"loadtest": {"stepUsers": 210, "stepCount": 10, "plan": {"userRequestsPerSecond": 2}}},
            2,
        ),
        # loadtest.workers wins over the plan.
        ({"loadtest": {"workers": 3, "stepUsers": 100, "stepCount": 10}}, 3),
    ],
)
def test_workers_are_sized_from_the_plan(values: dict[str, Any], workers: int) -> None:
    docs = ct.render({**values, "loadtest": {"enabled": True, **values.get("loadtest", {})}})
    job = ct.loadtest_job(docs, "worker")
    master = env_entries(ct.locust_container(docs, "master"))

    assert job["parallelism"] == job["completions"] == workers
    # The master starts the run once every worker of the Job has connected.
    assert master["LOCUST_EXPECT_WORKERS"]["value"] == str(job["parallelism"])
    assert master["LOCUST_EXPECT_WORKERS_MAX_WAIT"]["value"] == "300"
    assert ct.loadtest_job(docs, "master")["parallelism"] == 1
    assert ct.loadtest_job(docs, "master")["completions"] == 1


def test_roles_come_from_locusts_own_env(everything: list[dict[str, Any]]) -> None:
    master = env_entries(ct.locust_container(everything, "master"))
    worker = env_entries(ct.locust_container(everything, "worker"))

    assert master["LOCUST_MODE_MASTER"]["value"] == "true"
    assert "LOCUST_MODE_WORKER" not in master
    # The run's name in its results: the Job's, whoever made it.
    assert master["RUN_NAME"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}
    }
    assert {n: e["value"] for n, e in worker.items()} == {
        "LOCUST_MODE_WORKER": "true",
        "LOCUST_MASTER_NODE_HOST": MASTER_HOST,
    }


def test_workers_reach_exactly_the_master(everything: list[dict[str, Any]]) -> None:
    """The headless Service selects the master pod, not the workers nor the service pods."""
    (service,) = [
        s for s in ct.kinds(everything, "Service") if s["metadata"]["name"] == MASTER_HOST
    ]
    selector = service["spec"]["selector"].items()
    master = ct.loadtest_pod(everything, "master")
    labels = {name: t["metadata"]["labels"].items() for name, t in ct.pod_templates(everything)}

    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True  # a master has no readiness
    assert [name for name, pod in labels.items() if selector <= pod] == [
        f"CronJob/{ct.RELEASE}-loadtest"
    ]
    (port,) = service["spec"]["ports"]
    (container_port,) = master["spec"]["containers"][0]["ports"]
    assert port["port"] == container_port["containerPort"] == 5557  # Locust's default
    assert port["targetPort"] == container_port["name"]
    # The workers wait until the master's name resolves: Locust's worker gives up at once.
    wait = ct.loadtest_pod(everything, "worker")["spec"]["initContainers"][1]
    assert wait["name"] == "wait-master"
    assert wait["command"][3:5] == ["resolve", MASTER_HOST]


def test_both_wait_for_the_ready_service_first(everything: list[dict[str, Any]]) -> None:
    """Review #7: one ready pod, even an old one, used to be enough."""
    (wait,) = ct.loadtest_pod(everything, "master")["spec"]["initContainers"]
    command = wait["command"]

    assert command[:4] == ["python", "-m", "service.probe", "endpoints"]
    assert command[command.index("--count") + 1] == "2"  # autoscaling.minReplicas
    assert command[command.index("--service") + 1] == ct.RELEASE
    docs = ct.render({"loadtest": {"enabled": True, "readyReplicas": 5}})
    command = ct.loadtest_pod(docs, "master")["spec"]["initContainers"][0]["command"]
    assert command[command.index("--count") + 1] == "5"
    # The workers (no API token) wait for /readyz through the Service.
    worker = ct.loadtest_pod(everything, "worker")["spec"]["initContainers"][0]
    assert worker["name"] == "wait-ready"
    assert worker["command"][3:5] == ["url", f"{ct.SERVICE_URL}/readyz"]


def test_only_the_master_holds_its_accounts_token_limited_to_its_results(
    everything: list[dict[str, Any]],
) -> None:
    master = ct.loadtest_pod(everything, "master")["spec"]
    worker = ct.loadtest_pod(everything, "worker")["spec"]
    account = f"{ct.RELEASE}-loadtest"
    (role,) = [r for r in ct.kinds(everything, "Role") if r["metadata"]["name"] == account]
    (binding,) = [
        b for b in ct.kinds(everything, "RoleBinding") if b["metadata"]["name"] == account
    ]

    assert master["serviceAccountName"] == account
    # The workers run as the same account, for its imagePullSecrets, but without its token.
    assert worker["serviceAccountName"] == account
    assert worker["automountServiceAccountToken"] is False
    assert master.get("automountServiceAccountToken", True) is True
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [RESULTS],
            "verbs": ["get", "update"],
        },
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["get", "list"],
        },
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": account,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": ct.NAMESPACE}
    ]


def test_no_load_test_by_default(default: list[dict[str, Any]]) -> None:
    assert [d["kind"] for d in default if d["kind"] in {"Job", "CronJob"}] == []
    assert [p["metadata"]["name"] for p in ct.kinds(default, "Pod")] == [
        f"{ct.RELEASE}-test-predict"
    ]
    assert [c["metadata"]["name"] for c in ct.kinds(default, "ConfigMap")] == [ct.RELEASE]
    assert not [d for d in default if "loadtest" in d["metadata"]["name"]]
