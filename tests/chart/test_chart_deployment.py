"""The Deployment: probes, shutdown, environment, scratch space, spread, security."""

from __future__ import annotations

import re
from typing import Any

import chart_tools as ct
import pytest

CONTRACT = ct.CONTRACT


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
    [("1.29.0", {"exec": {"command": ["sleep", "10"]}}), ("1.30.0", {"sleep": {"seconds": 10}})],
)
def test_shutdown_outlasts_pre_stop_and_graceful_timeout(
    kube_version: str, pre_stop: dict[str, Any]
) -> None:
    docs = ct.render(kube_version=kube_version)
    pod = ct.one(docs, "Deployment")["spec"]["template"]["spec"]
    container = ct.server_container(docs)
    graceful = int(ct.container_env(docs, container)["GRACEFUL_TIMEOUT"])

    assert container["lifecycle"]["preStop"] == pre_stop
    assert pod["terminationGracePeriodSeconds"] > 10 + graceful


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
        "MODEL_RUNTIME": "onnxruntime",
        "MODEL_PACKING": "auto",
        "MODEL_PACK_MAX_MIB": "1024",
        "MODEL_INPUT_DIM": "64",
        "MAX_CALL_S": "30",
        "MODEL_CACHE_DIR": "/var/cache/corebound",
        "WORKER_OVERHEAD_MIB": "96",
        "MEMORY_HEADROOM_MIB": "128",
        "MAX_BODY_BYTES": "431104",
        "PARSE_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": "/run/prometheus",
        "GRACEFUL_TIMEOUT": "30",
        "MAX_BATCH_SIZE": "64",
        "MAX_WAIT_MS": "0",
        "MAX_QUEUE_ROWS": "256",
        "MAX_ROWS_PER_REQUEST": "256",
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
    assert checksum({"resources": {"cpu": 4}}) == base  # WEB_CONCURRENCY is in the template
    assert checksum({"autoscaling": {"maxReplicas": 30}}) == base


def test_scratch_metrics_and_model_cache_directories_are_empty_dirs(
    default: list[dict[str, Any]],
) -> None:
    pod = ct.one(default, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    container = ct.server_container(default)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}

    assert set(mounts) == {"/tmp", "/run/prometheus", "/var/cache/corebound"}
    assert all("emptyDir" in volumes[name] for name in mounts.values())
    assert ct.container_env(default, container)["MODEL_CACHE_DIR"] == "/var/cache/corebound"


@pytest.mark.parametrize(("size_mib", "cache"), [(19, "102Mi"), (2000, "4064Mi")])
def test_the_model_cache_holds_a_prepared_model_plain_and_packed(size_mib: int, cache: str) -> None:
    pod = ct.one(ct.render({"model": {"sizeMiB": size_mib}}), "Deployment")["spec"]["template"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}

    assert volumes["model-cache"]["emptyDir"]["sizeLimit"] == cache


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
    specs = ct.pod_specs(everything)
    assert sorted(name for name, _ in specs) == [
        f"CronJob/{ct.RELEASE}-loadtest",
        f"CronJob/{ct.RELEASE}-loadtest-workers",
        f"Deployment/{ct.RELEASE}",
        f"Deployment/{ct.RELEASE}-jobs",
        f"Pod/{ct.RELEASE}-test-predict",
        f"StatefulSet/{ct.RELEASE}-redis",
    ]
    # Only the `helm test` probe and the load test's master read the API, each with its own
    # account; the service pods, job workers, Redis and the load test's workers get no token.
    accounts = {
        f"Pod/{ct.RELEASE}-test-predict": f"{ct.RELEASE}-probe",
        f"CronJob/{ct.RELEASE}-loadtest": f"{ct.RELEASE}-loadtest",
    }
    for name, spec in specs:
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, name
        assert (pod_ctx["runAsUser"], pod_ctx["runAsGroup"], pod_ctx["fsGroup"]) == (
            10001,
            10001,
            10001,
        )
        assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        if name in accounts:
            assert spec["serviceAccountName"] == accounts[name], name
        else:
            assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], name


def test_service_account_does_not_mount_a_token(default: list[dict[str, Any]]) -> None:
    (account,) = [
        a for a in ct.kinds(default, "ServiceAccount") if a["metadata"]["name"] == ct.RELEASE
    ]
    pod = ct.one(default, "Deployment")["spec"]["template"]["spec"]

    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]
