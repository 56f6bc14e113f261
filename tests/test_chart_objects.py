"""What matters in each rendered object: probes, shutdown, security, HPA, PDB, policies,
the ServiceMonitor, the load test Job (against the Dockerfile) and the `helm test` Pod."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import chart_tools as ct
import pytest

CONTRACT = (ct.REPO / "docs" / "CONTRACT.md").read_text()
SERVICE_URL = f"http://{ct.RELEASE}.{ct.NAMESPACE}.svc:80"


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = [(f"Pod/{d['metadata']['name']}", d["spec"]) for d in ct.kinds(docs, "Pod")]
    for kind in ("Deployment", "Job"):
        specs += [
            (f"{kind}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
            for d in ct.kinds(docs, kind)
        ]
    return specs


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return ct.render()


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    return ct.render(ct.values_file(ct.CHART_DIR / "ci" / "everything-values.yaml"))


# --- Deployment -------------------------------------------------------------------------


def test_probes_use_the_designed_paths(default: list[dict[str, Any]]) -> None:
    container = ct.server_container(default)

    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize("size_mib", [19, 500, 2048])
def test_startup_probe_allows_for_the_model_load(size_mib: int) -> None:
    probes = ct.default_values()["probes"]["startup"]
    startup = ct.server_container(ct.render({"model": {"sizeMiB": size_mib}}))["startupProbe"]

    budget = startup["failureThreshold"] * startup["periodSeconds"]
    needed = probes["baseSeconds"] + size_mib / probes["loadMiBPerSecond"]
    assert needed <= budget < needed + startup["periodSeconds"]


@pytest.mark.parametrize(
    ("kube_version", "pre_stop"),
    [("1.29.0", {"exec": {"command": ["sleep", "5"]}}), ("1.30.0", {"sleep": {"seconds": 5}})],
)
def test_shutdown_outlasts_pre_stop_and_graceful_timeout(
    kube_version: str, pre_stop: dict[str, Any]
) -> None:
    docs = ct.render(kube_version=kube_version)
    pod = ct.one(docs, "Deployment")["spec"]["template"]["spec"]
    container = ct.server_container(docs)
    graceful = int(ct.container_env(docs, container)["GRACEFUL_TIMEOUT"])

    assert container["lifecycle"]["preStop"] == pre_stop
    assert pod["terminationGracePeriodSeconds"] > 5 + graceful


def test_shutdown_timings_are_values() -> None:
    values = {
        "shutdown": {
            "preStopSleepSeconds": 10,
            "gracefulTimeoutSeconds": 60,
            "extraGraceSeconds": 5,
        }
    }
    docs = ct.render(values)
    container = ct.server_container(docs)

    assert ct.container_env(docs, container)["GRACEFUL_TIMEOUT"] == "60"
    assert (
        ct.one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        == 75
    )


def test_service_environment(default: list[dict[str, Any]]) -> None:
    env = ct.container_env(default, ct.server_container(default))

    assert env == {
        "WEB_CONCURRENCY": "2",
        "OMP_NUM_THREADS": "1",
        "CONCURRENCY_MODE": "throughput",
        "MODEL_MMAP": "true",
        "WORKER_OVERHEAD_MIB": "96",
        "MEMORY_HEADROOM_MIB": "128",
        "MAX_BODY_BYTES": "431104",
        "PARSE_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": "/run/prometheus",
        "GRACEFUL_TIMEOUT": "30",
        "MAX_BATCH_SIZE": "64",
        "MAX_WAIT_MS": "0",
        "MAX_QUEUE_ROWS": "256",
        "REQUEST_TIMEOUT_S": "10",
    }
    for name in env:
        assert f"`{name}`" in CONTRACT, f"{name} is not a contract env name"


def test_batching_and_model_dir_come_from_values() -> None:
    values = {
        "batching": {
            "maxBatchSize": 16,
            "maxWaitMs": 2.5,
            "maxQueueRows": 1000,
            "requestTimeoutS": 3,
        },
        "model": {"dir": "/models/large"},
    }
    docs = ct.render(values)
    env = ct.container_env(docs, ct.server_container(docs))

    assert (env["MAX_BATCH_SIZE"], env["MAX_WAIT_MS"], env["MAX_QUEUE_ROWS"]) == (
        "16",
        "2.5",
        "1000",
    )
    assert (env["REQUEST_TIMEOUT_S"], env["MODEL_DIR"]) == ("3", "/models/large")


def test_config_checksum_follows_the_environment_only() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = ct.one(ct.render(values), "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    base = checksum({})
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum({"batching": {"maxBatchSize": 8}}) != base
    assert checksum({"resources": {"cpu": 4}}) != base  # WEB_CONCURRENCY changes
    assert checksum({"autoscaling": {"maxReplicas": 30}}) == base


def test_scratch_and_metrics_directories_are_empty_dirs(default: list[dict[str, Any]]) -> None:
    pod = ct.one(default, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in ct.server_container(default)["volumeMounts"]}

    assert set(mounts) == {"/tmp", "/run/prometheus"}
    assert all("emptyDir" in volumes[name] for name in mounts.values())


def test_topology_spread_over_zones_and_nodes(default: list[dict[str, Any]]) -> None:
    deployment = ct.one(default, "Deployment")
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    selector = deployment["spec"]["selector"]["matchLabels"]

    assert [c["topologyKey"] for c in constraints] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert all(c["labelSelector"]["matchLabels"] == selector for c in constraints)
    off = ct.one(ct.render({"topologySpread": {"topologyKeys": []}}), "Deployment")
    assert "topologySpreadConstraints" not in off["spec"]["template"]["spec"]


def test_restricted_security_everywhere(everything: list[dict[str, Any]]) -> None:
    specs = pod_specs(everything)
    assert {name.split("/")[0] for name, _ in specs} == {"Deployment", "Job", "Pod"}
    for name, spec in specs:
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, name
        assert (pod_ctx["runAsUser"], pod_ctx["runAsGroup"], pod_ctx["fsGroup"]) == (
            10001,
            10001,
            10001,
        )
        assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], name


def test_service_account_does_not_mount_a_token(default: list[dict[str, Any]]) -> None:
    account = ct.one(default, "ServiceAccount")
    pod = ct.one(default, "Deployment")["spec"]["template"]["spec"]

    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_images_default_to_the_app_version_without_a_registry(
    everything: list[dict[str, Any]],
) -> None:
    images = {
        c["image"]
        for _, spec in pod_specs(everything)
        for c in spec["containers"] + spec.get("initContainers", [])
    }

    assert images == {"corebound:0.1.0", "corebound-loadtest:0.1.0"}
    pinned = ct.server_container(ct.render({"image": {"digest": "sha256:" + "a" * 64}}))
    assert pinned["image"] == "corebound@sha256:" + "a" * 64


# --- Service, HPA, PDB --------------------------------------------------------------------


def test_service_routes_port_80_to_http(default: list[dict[str, Any]]) -> None:
    service = ct.one(default, "Service")
    deployment = ct.one(default, "Deployment")

    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_client_pods_are_never_behind_the_service(everything: list[dict[str, Any]]) -> None:
    selector = ct.one(everything, "Service")["spec"]["selector"].items()
    job = ct.one(everything, "Job")["spec"]["template"]["metadata"]["labels"]
    test_pod = ct.one(everything, "Pod")["metadata"]["labels"]

    assert not selector <= job.items()
    assert not selector <= test_pod.items()


def test_hpa_targets_the_deployment_on_cpu(default: list[dict[str, Any]]) -> None:
    hpa = ct.one(default, "HorizontalPodAutoscaler")
    deployment = ct.one(default, "Deployment")

    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert "replicas" not in deployment["spec"]  # the HPA owns the count


def test_hpa_scales_up_fast_and_down_slowly(default: list[dict[str, Any]]) -> None:
    behavior = ct.one(default, "HorizontalPodAutoscaler")["spec"]["behavior"]

    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleUp"]["selectPolicy"] == "Max"
    assert {
        (p["type"], p["value"], p["periodSeconds"]) for p in behavior["scaleUp"]["policies"]
    } == {
        ("Percent", 100, 15),
        ("Pods", 4, 15),
    }
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_hpa_behavior_is_tunable() -> None:
    values = {
        "autoscaling": {
            "targetCPUUtilizationPercentage": 55,
            "scaleUp": {
                "stabilizationWindowSeconds": 5,
                "percent": 200,
                "pods": 8,
                "periodSeconds": 30,
            },
            "scaleDown": {"stabilizationWindowSeconds": 600, "percent": 10, "periodSeconds": 120},
        }
    }
    spec = ct.one(ct.render(values), "HorizontalPodAutoscaler")["spec"]

    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
    assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 5
    assert {p["value"] for p in spec["behavior"]["scaleUp"]["policies"]} == {200, 8}
    assert spec["behavior"]["scaleDown"]["policies"] == [
        {"type": "Percent", "value": 10, "periodSeconds": 120}
    ]


def test_without_hpa_the_deployment_has_replicas() -> None:
    docs = ct.render({"autoscaling": {"enabled": False}, "replicaCount": 3})

    assert ct.kinds(docs, "HorizontalPodAutoscaler") == []
    assert ct.one(docs, "Deployment")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("values", "has_pdb"),
    [
        ({}, True),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 2}}, True),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 1}}, False),
        ({"autoscaling": {"enabled": False}, "replicaCount": 2}, True),
        ({"autoscaling": {"enabled": False}, "replicaCount": 1}, False),
        ({"podDisruptionBudget": {"enabled": False}}, False),
    ],
    ids=["hpa-2-10", "hpa-1-2", "hpa-1-1", "fixed-2", "fixed-1", "disabled"],
)
def test_pdb_only_when_more_than_one_replica_can_exist(
    values: dict[str, Any], has_pdb: bool
) -> None:
    docs = ct.render(values)
    pdbs = ct.kinds(docs, "PodDisruptionBudget")

    assert bool(pdbs) is has_pdb
    if pdbs:
        assert pdbs[0]["spec"]["maxUnavailable"] == 1
        assert pdbs[0]["spec"]["selector"] == ct.one(docs, "Deployment")["spec"]["selector"]


# --- NetworkPolicy, ServiceMonitor ----------------------------------------------------------


def policies(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in ct.kinds(docs, "NetworkPolicy")}


def test_network_policy_is_optional() -> None:
    assert ct.kinds(ct.render(), "NetworkPolicy") == []
    server = policies(ct.render({"networkPolicy": {"enabled": True}}))[ct.RELEASE]

    assert server["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert server["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert server["spec"]["egress"] == []


def test_network_policy_peers_keep_the_release_clients() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "networkpolicy-values.yaml"))
    server = policies(docs)[ct.RELEASE]
    peers = server["spec"]["ingress"][0]["from"]

    assert server["spec"]["podSelector"] == ct.one(docs, "Deployment")["spec"]["selector"]
    assert peers[0] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}
    }
    clients = peers[1]["podSelector"]
    assert clients["matchLabels"] == {"app.kubernetes.io/instance": ct.RELEASE}
    assert clients["matchExpressions"][0]["values"] == ["loadtest", "test"]


def test_client_pods_reach_only_the_service_and_dns(everything: list[dict[str, Any]]) -> None:
    policy = policies(everything)[f"{ct.RELEASE}-clients"]
    selector = policy["spec"]["podSelector"]
    server_labels = ct.one(everything, "Deployment")["spec"]["template"]["metadata"]["labels"]

    def selects(labels: dict[str, str]) -> bool:
        expression = selector["matchExpressions"][0]
        return selector["matchLabels"].items() <= labels.items() and (
            labels.get(expression["key"]) in expression["values"]
        )

    assert selects(ct.one(everything, "Pod")["metadata"]["labels"])
    assert selects(ct.one(everything, "Job")["spec"]["template"]["metadata"]["labels"])
    assert not selects(server_labels)
    assert policy["spec"]["ingress"] == []
    to_server, dns = policy["spec"]["egress"]
    assert to_server["to"] == [
        {"podSelector": ct.one(everything, "Deployment")["spec"]["selector"]}
    ]
    assert to_server["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert {p["port"] for p in dns["ports"]} == {53}


@pytest.mark.parametrize(
    ("values", "api_versions", "rendered"),
    [
        ({}, (), False),
        ({}, (ct.SERVICE_MONITOR_API,), True),
        ({"serviceMonitor": {"enabled": True}}, (), True),
        ({"serviceMonitor": {"autoDetect": False}}, (ct.SERVICE_MONITOR_API,), False),
    ],
    ids=["no-api", "api-detected", "forced", "detection-off"],
)
def test_service_monitor_when_its_api_exists_or_forced(
    values: dict[str, Any], api_versions: tuple[str, ...], rendered: bool
) -> None:
    docs = ct.render(values, api_versions=api_versions)

    assert bool(ct.kinds(docs, "ServiceMonitor")) is rendered


def test_service_monitor_structure() -> None:
    """A CRD kind: no OpenAPI schema to validate against, so its shape is checked here."""
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "servicemonitor-values.yaml"))
    monitor = ct.one(docs, "ServiceMonitor")
    service = ct.one(docs, "Service")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}


# --- the load test Job ----------------------------------------------------------------------


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
    image = CONTRACT.split("## Image", 1)[1].split("\n## ", 1)[0]
    entrypoint = re.search(r"ENTRYPOINT (\[.*?\])", image, re.DOTALL)
    cmd = re.search(r"CMD (\[.*?\])", image, re.DOTALL)
    assert entrypoint and cmd
    return json.loads(entrypoint.group(1)), json.loads(cmd.group(1))


def loadtest_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = ct.one(docs, "Job")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["locust"]
    return containers[0]


def test_job_args_are_the_loadtest_image_cmd(everything: list[dict[str, Any]]) -> None:
    stage = dockerfile_stage((ct.REPO / "Dockerfile").read_text(), "loadtest")
    container = loadtest_container(everything)

    assert stage["ENTRYPOINT"] == ["locust"]
    assert "command" not in container  # the image's ENTRYPOINT runs
    assert container["args"] == stage["CMD"]


def test_job_args_match_the_contract(everything: list[dict[str, Any]]) -> None:
    entrypoint, cmd = contract_loadtest_cmd()

    assert entrypoint == ["locust"]
    assert loadtest_container(everything)["args"] == cmd


def test_job_runs_once_and_cleans_up(everything: list[dict[str, Any]]) -> None:
    job = ct.one(everything, "Job")
    pod = job["spec"]["template"]["spec"]

    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0  # a retry would hide a missed SLO
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["spec"]["activeDeadlineSeconds"] > 30 * 5  # outlasts the default steps
    assert job["metadata"]["name"] == f"{ct.RELEASE}-loadtest-1"
    mounts = {m["mountPath"]: m["name"] for m in loadtest_container(everything)["volumeMounts"]}
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])


def test_job_settings_come_from_a_configmap() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    env = ct.container_env(docs, loadtest_container(docs))

    assert env == {
        "LOCUST_HOST": SERVICE_URL,
        "STEP_USERS": "20",
        "STEP_SECONDS": "30",
        "STEP_COUNT": "6",
        "SPAWN_RATE": "10",
        "ROWS_PER_REQUEST": "1",
        "WEIGHT_V1_PREDICT": "3",
        "WEIGHT_V2_INFER": "1",
        "SLO_MAX_FAILURE_RATIO": "0.005",
        "SLO_P95_MS": "200",
        "SLO_P99_MS": "400",
    }
    settings = CONTRACT.split("## Load test settings", 1)[1]
    for name in env:
        assert f"`{name}`" in settings or name == "LOCUST_HOST", name


def test_job_waits_for_the_service_before_loading_it(everything: list[dict[str, Any]]) -> None:
    init = ct.one(everything, "Job")["spec"]["template"]["spec"]["initContainers"]

    assert [c["name"] for c in init] == ["wait-ready"]
    assert init[0]["command"][:2] == ["python", "-c"]
    assert '"/readyz"' in init[0]["command"][2]
    compile(init[0]["command"][2], "wait-ready", "exec")


def test_no_job_by_default(default: list[dict[str, Any]]) -> None:
    assert ct.kinds(default, "Job") == []
    assert [c["metadata"]["name"] for c in ct.kinds(default, "ConfigMap")] == [ct.RELEASE]


# --- helm test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_pod(default: list[dict[str, Any]]) -> dict[str, Any]:
    return ct.one(default, "Pod")


def test_helm_test_pod_is_a_cleaned_up_hook(test_pod: dict[str, Any]) -> None:
    annotations = test_pod["metadata"]["annotations"]

    assert annotations["helm.sh/hook"] == "test"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert test_pod["spec"]["restartPolicy"] == "Never"
    container = test_pod["spec"]["containers"][0]
    assert container["image"] == "corebound:0.1.0"  # the service image's python
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TARGET"] == f"{SERVICE_URL}/v1/predict"
    assert len(json.loads(env["INPUTS"])[0]) == 64


class _Proxy(BaseHTTPRequestHandler):
    """Forwards POSTs to the real app (a TestClient): the test Pod's script over real HTTP."""

    client: Any = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = self.client.post(
            self.path, content=body, headers={"Content-Type": "application/json"}
        )
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import load_settings

    with TestClient(create_app(load_settings())) as client:
        _Proxy.client = client
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize(("expected", "passes"), [("0", True), ("7", False)])
def test_helm_test_script_checks_the_real_answer(
    test_pod: dict[str, Any], service_url: str, expected: str, passes: bool
) -> None:
    container = test_pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(TARGET=f"{service_url}/v1/predict", EXPECTED_LABEL=expected)

    assert container["command"][:2] == ["python", "-c"]
    run = subprocess.run(
        [sys.executable, "-c", container["command"][2]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (run.returncode == 0) is passes, run.stderr
    assert '"labels": ["0"]' in run.stdout


# --- NOTES ----------------------------------------------------------------------------------


def test_notes_show_how_to_call_load_test_and_watch() -> None:
    notes = ct.render_files()[f"{ct.RELEASE}/templates/NOTES.txt"]

    assert f"port-forward svc/{ct.RELEASE} 8000:80" in notes
    assert "curl -s -X POST localhost:8000/v1/predict" in notes
    assert f"helm test {ct.RELEASE}" in notes
    assert "--set loadtest.enabled=true" in notes
    assert f"get hpa {ct.RELEASE} --watch" in notes
    with_job = ct.render_files(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    assert f"logs -f job/{ct.RELEASE}-loadtest-1" in with_job[f"{ct.RELEASE}/templates/NOTES.txt"]
