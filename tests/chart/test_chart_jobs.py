"""The job API's chart side (jobs.*): the API's job settings and REDIS_URL, the job workers'
Deployment and HPA, selectors kept apart, network policies, NOTES and the refused values.
Redis itself: test_chart_redis.py; the memory plans: test_chart_sizing.py."""

from __future__ import annotations

from typing import Any

import chart_tools as ct
import helm_python
import pytest

from service.settings import Settings
from service.sizing.formula import largest_body_bytes

JOBS = {"jobs": {"enabled": True}}
EXTERNAL = ct.values_file(ct.CHART_DIR / "ci" / "jobs-external-redis-values.yaml")
WORKERS = f"{ct.RELEASE}-jobs"
REDIS = f"{ct.RELEASE}-redis"
PROBE = ["python", "-m", "service.jobs.probe"]
SECRETS = {
    (REDIS, "password"): "s3cret",
    ("redis-url", "REDIS_URL"): "redis://:s3cret@redis.example:6379/0",
}


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    return ct.render(JOBS)


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in ct.kinds(docs, kind) if d["metadata"]["name"] == name]
    return found


def worker_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = named(docs, "Deployment", WORKERS)["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "worker"
    return dict(container)


def env_entries(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def test_jobs_are_off_by_default(default: list[dict[str, Any]]) -> None:
    names = {(d["kind"], d["metadata"]["name"]) for d in default}

    assert not [n for n in names if n[1] in (WORKERS, REDIS)]
    assert not {"StatefulSet", "Secret"} & {kind for kind, _ in names}
    assert not [e for e in env_entries(ct.server_container(default)) if "JOB" in e or "REDIS" in e]


def test_the_api_gets_the_job_settings_from_values() -> None:
    values = {
        "jobs": {
            "enabled": True, "maxRows": 1000, "maxQueued": 50, "resultTtlSeconds": 3600,
            "timeLimitSeconds": 120, "maxRuns": 2,
        },
        "model": {"inputDim": 10},
    }  # fmt: skip
    docs = ct.render(values)
    env = ct.container_env(docs, ct.server_container(docs), SECRETS)

    assert {k: v for k, v in env.items() if k.startswith("JOB")} == {
        "JOBS_ENABLED": "true",
        "JOB_MAX_ROWS": "1000",
        "JOB_MAX_BODY_BYTES": str(largest_body_bytes(1000, 10)),
        "JOB_MAX_QUEUED": "50",
        "JOB_RESULT_TTL_S": "3600",
        "JOB_TIME_LIMIT_S": "120",
        "JOB_MAX_RUNS": "2",
    }


def test_redis_url_expands_the_secret_password_into_the_redis_service(
    jobs: list[dict[str, Any]],
) -> None:
    container = ct.server_container(jobs)
    entries = env_entries(container)
    names = list(entries)
    service = named(jobs, "Service", REDIS)

    assert entries["REDIS_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": REDIS, "key": "password"}
    }
    # The kubelet expands $(NAME) only from entries defined before it.
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    assert entries["REDIS_URL"]["value"] == f"redis://:$(REDIS_PASSWORD)@{REDIS}:6379/0"
    assert service["spec"]["ports"][0]["port"] == 6379
    env = ct.container_env(jobs, container, SECRETS)
    assert env["REDIS_URL"] == f"redis://:s3cret@{REDIS}:6379/0"


@pytest.mark.parametrize("values", [JOBS, EXTERNAL], ids=["built-in", "external"])
def test_both_containers_pass_the_service_settings(values: dict[str, Any]) -> None:
    """Every name the chart sets is a settings field, and the API's and the workers'
    environments pass service/settings.py's rules (JOBS_ENABLED needs REDIS_URL)."""
    docs = ct.render(values)
    fields = set(Settings.model_fields)
    for container in (ct.server_container(docs), worker_container(docs)):
        env = ct.container_env(docs, container, SECRETS)
        env.pop("MODEL_DIR", None)
        jobs_env = [name for name in env if name.startswith(("JOB", "REDIS_URL"))]

        assert {name.lower() for name in jobs_env} <= fields
        Settings.model_validate({k.lower(): v for k, v in env.items() if k.lower() in fields})


def test_external_redis_url_comes_from_its_secret() -> None:
    docs = ct.render(EXTERNAL)

    for container in (ct.server_container(docs), worker_container(docs)):
        entries = env_entries(container)
        assert entries["REDIS_URL"] == {
            "name": "REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": "redis-url", "key": "REDIS_URL"}},
        }
        assert "REDIS_PASSWORD" not in entries
    assert [d for d in docs if REDIS in d["metadata"]["name"]] == []
    assert ct.kinds(docs, "StatefulSet") == ct.kinds(docs, "Secret") == []


def test_workers_run_the_services_image_and_model_setup() -> None:
    """The same image, settings, init container, volumes and security as the service pods,
    with a model fetched from a URL (ci/model-from-url-values.yaml)."""
    values = {**ct.values_file(ct.CHART_DIR / "ci" / "model-from-url-values.yaml"), **JOBS}
    docs = ct.render(values)
    service = ct.service_deployment(docs)["spec"]["template"]["spec"]
    worker = named(docs, "Deployment", WORKERS)["spec"]["template"]["spec"]
    server, container = ct.server_container(docs), worker_container(docs)

    for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext"):
        assert worker[key] == service[key], key
    assert worker["initContainers"] == service["initContainers"] != []
    assert worker["volumes"] == service["volumes"]
    for key in ("image", "imagePullPolicy", "securityContext", "envFrom", "volumeMounts"):
        assert container[key] == server[key], key
    assert container["command"] == ["python", "-m", "service.jobs.worker"]
    assert "ports" not in container
    env = ct.container_env(docs, container)
    assert env["MODEL_DIR"] == "/models/digits" and env["LOG_LEVEL"] == "info"  # extraEnv too
    assert "JOBS_ENABLED" not in env  # the worker serves no routes


def test_workers_probe_their_heartbeat_and_finish_their_job_on_shutdown() -> None:
    docs = ct.render({"jobs": {"enabled": True, "timeLimitSeconds": 900}})
    container = worker_container(docs)
    pod = named(docs, "Deployment", WORKERS)["spec"]["template"]["spec"]

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"] == {"command": PROBE}, probe
        # The probe passes while the heartbeat is under 60 s old: checks come more often.
        assert container[probe]["periodSeconds"] < 60, probe
    # Celery's warm shutdown lets the running job end: its time limit, then 30 s.
    assert pod["terminationGracePeriodSeconds"] == 900 + 30
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]  # Guaranteed, like the service


def test_selectors_keep_the_service_workers_and_redis_apart(jobs: list[dict[str, Any]]) -> None:
    pods = {name: t["metadata"]["labels"] for name, t in ct.pod_templates(jobs)}
    service = named(jobs, "Service", ct.RELEASE)["spec"]["selector"]
    pdb = ct.one(jobs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]

    def picks(selector: dict[str, str]) -> list[str]:
        return sorted(name for name, labels in pods.items() if selector.items() <= labels.items())

    assert picks(service) == picks(pdb) == [f"Deployment/{ct.RELEASE}"]
    for name in (ct.RELEASE, WORKERS):
        deployment = named(jobs, "Deployment", name)
        assert picks(deployment["spec"]["selector"]["matchLabels"]) == [f"Deployment/{name}"]
    assert picks(named(jobs, "StatefulSet", REDIS)["spec"]["selector"]["matchLabels"]) == [
        f"StatefulSet/{REDIS}"
    ]
    assert picks(named(jobs, "Service", REDIS)["spec"]["selector"]) == [f"StatefulSet/{REDIS}"]
    assert pods[f"Deployment/{WORKERS}"]["app.kubernetes.io/component"] == "jobs"
    targets = {
        h["metadata"]["name"]: h["spec"]["scaleTargetRef"]["name"]
        for h in ct.kinds(jobs, "HorizontalPodAutoscaler")
    }
    assert targets == {ct.RELEASE: ct.RELEASE, WORKERS: WORKERS}


def test_worker_hpa_scales_on_cpu_and_off_leaves_min_replicas(jobs: list[dict[str, Any]]) -> None:
    hpa = named(jobs, "HorizontalPodAutoscaler", WORKERS)["spec"]

    assert named(jobs, "HorizontalPodAutoscaler", WORKERS)["apiVersion"] == "autoscaling/v2"
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)
    target = {"type": "Utilization", "averageUtilization": 70}
    assert hpa["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    assert "replicas" not in named(jobs, "Deployment", WORKERS)["spec"]  # the HPA owns it
    fixed = ct.render(EXTERNAL)
    assert [h["metadata"]["name"] for h in ct.kinds(fixed, "HorizontalPodAutoscaler")] == [
        ct.RELEASE
    ]
    assert named(fixed, "Deployment", WORKERS)["spec"]["replicas"] == 2


def policies(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p["spec"] for p in ct.kinds(docs, "NetworkPolicy")}


def test_network_policies_open_redis_and_dns_to_the_api_and_workers() -> None:
    docs = ct.render({**JOBS, "networkPolicy": {"enabled": True}})
    found = policies(docs)
    redis_pods = named(docs, "StatefulSet", REDIS)["spec"]["selector"]
    dns = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    to_redis = {"to": [{"podSelector": redis_pods}], "ports": [{"port": 6379, "protocol": "TCP"}]}

    assert found[ct.RELEASE]["egress"] == [to_redis, dns]
    workers = found[WORKERS]
    assert workers["podSelector"] == named(docs, "Deployment", WORKERS)["spec"]["selector"]
    assert (workers["policyTypes"], workers["ingress"]) == (["Ingress", "Egress"], [])
    assert workers["egress"] == [to_redis, dns]
    # Without networkPolicy.enabled only Redis's own policy renders.
    assert list(policies(ct.render(JOBS))) == [REDIS]


def test_an_external_redis_is_reached_through_network_policy_egress() -> None:
    found = policies(ct.render(EXTERNAL))
    listed = EXTERNAL["networkPolicy"]["egress"]
    dns = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}

    assert found[ct.RELEASE]["egress"] == found[WORKERS]["egress"] == [*listed, dns]
    assert REDIS not in found


def notes(values: dict[str, Any]) -> str:
    return ct.render_files(values)[f"{ct.RELEASE}/templates/NOTES.txt"]


def test_notes_show_how_to_submit_and_poll_a_job() -> None:
    text = notes(JOBS)
    jobs_part = text.split("Jobs (jobs.enabled)", 1)[1]

    assert "/v1/jobs" not in notes({})
    assert f"port-forward svc/{ct.RELEASE} 8000:80" in text.split("Jobs (jobs.enabled)")[0]
    assert "curl -s -D - -o /dev/null -X POST localhost:8000/v1/jobs" in jobs_part
    assert "Location: /v1/jobs/<id>" in jobs_part
    assert "curl -s localhost:8000/v1/jobs/<id>" in jobs_part
    assert "at least once" in jobs_part
    assert f"deployment/{WORKERS}" in jobs_part and f"statefulset/{REDIS}" in jobs_part
    external = notes(EXTERNAL)
    assert "secret/redis-url" in external and "list that Redis in networkPolicy.egress" in external


BAD_VALUES = [
    (
        {"jobs": {"enabled": True, "redis": {"enabled": False}}},
        "jobs.externalRedis.existingSecret is required when jobs.enabled and"
        " jobs.redis.enabled=false",
    ),
    (
        {"jobs": {"enabled": True, "externalRedis": {"existingSecret": "mine"}}},
        'jobs.externalRedis.existingSecret ("mine") is used only with jobs.redis.enabled=false',
    ),
    (
        {"jobs": {"enabled": True, "worker": {"resources": {"cpu": "lots"}}}},
        'jobs.worker.resources.cpu: not a CPU quantity: "lots"',
    ),
    (
        {"jobs": {"enabled": True, "worker": {"resources": {"cpu": "0m"}}}},
        "jobs.worker.resources.cpu: CPU quantity must be positive",
    ),
    (
        {"jobs": {"enabled": True, "worker": {"autoscaling": {"minReplicas": 5}}}},
        "jobs.worker.autoscaling.maxReplicas (4) must be >="
        " jobs.worker.autoscaling.minReplicas (5)",
    ),
    ({"jobs": {"maxRows": 0}}, "/jobs/maxRows"),
    ({"jobs": {"worker": {"resources": {"memory": "1Gi"}}}}, "'memory' not allowed"),
    ({"jobs": {"redis": {"resources": {"memory": "1G"}}}}, "/jobs/redis/resources/memory"),
    ({"jobs": {"redis": {"image": {"digest": "sha256:abc"}}}}, "/jobs/redis/image/digest"),
    ({"jobs": {"queue": "x"}}, "additional properties 'queue' not allowed"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_bad_jobs_values_are_refused_naming_them(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render(values)

    assert message in str(refused.value)
