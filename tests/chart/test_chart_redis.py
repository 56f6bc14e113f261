"""The built-in Redis of the job API (jobs.redis.*): its StatefulSet, started here for real
from the rendered command and config, its password Secret (kept across upgrades through
`lookup`), its claim, and the NetworkPolicy that admits only this release's pods."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chart_tools as ct
import helm_python
import pytest
from helm_python import _native

from scripts.local.net import free_port

JOBS = {"jobs": {"enabled": True}}
REDIS = f"{ct.RELEASE}-redis"
PUBLISHED = "ghcr.io/corebound/corebound"
PING = ["redis-cli", "-e", "ping"]


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    return ct.render(JOBS)


def redis_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    statefulset = ct.one(docs, "StatefulSet")
    assert statefulset["metadata"]["name"] == REDIS
    spec: dict[str, Any] = statefulset["spec"]
    return spec


def redis_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = redis_pod(docs)["template"]["spec"]["containers"]
    return dict(container)


def redis_conf(docs: list[dict[str, Any]]) -> str:
    (configmap,) = [c for c in ct.kinds(docs, "ConfigMap") if c["metadata"]["name"] == REDIS]
    return str(configmap["data"]["redis.conf"])


def test_one_replica_of_the_redis_image_at_the_app_version(jobs: list[dict[str, Any]]) -> None:
    spec = redis_pod(jobs)
    container = redis_container(jobs)

    assert (spec["replicas"], spec["serviceName"]) == (1, REDIS)
    assert container["image"] == f"{PUBLISHED}-redis:{ct.APP_VERSION}"
    digest = "sha256:" + "ab" * 32
    pinned = ct.render({"jobs": {"enabled": True, "redis": {"image": {"digest": digest}}}})
    assert redis_container(pinned)["image"] == f"{PUBLISHED}-redis@{digest}"
    own = ct.render({**JOBS, "image": {"repository": "r.example/ml/corebound"}})
    assert redis_container(own)["image"] == f"r.example/ml/corebound-redis:{ct.APP_VERSION}"


def test_appends_every_write_and_keeps_the_password_out_of_config_and_argv(
    jobs: list[dict[str, Any]],
) -> None:
    conf = redis_conf(jobs).splitlines()
    container = redis_container(jobs)

    for line in ("appendonly yes", "appendfsync always", "dir /data", "port 6379"):
        assert line in conf, line
    assert "maxmemory 192mb" in conf and "maxmemory-policy noeviction" in conf  # 3/4 of 256Mi
    assert not [line for line in conf if "requirepass" in line]
    assert container["command"][:2] == ["sh", "-c"]
    assert "$REDISCLI_AUTH" in container["command"][2]
    assert container["env"] == [
        {
            "name": "REDISCLI_AUTH",
            "valueFrom": {"secretKeyRef": {"name": REDIS, "key": "password"}},
        }
    ]
    bigger = ct.render({"jobs": {"enabled": True, "redis": {"resources": {"memory": "1Gi"}}}})
    assert "maxmemory 768mb" in redis_conf(bigger).splitlines()


def test_probes_ping_with_the_password_and_security_is_the_charts(
    jobs: list[dict[str, Any]],
) -> None:
    container = redis_container(jobs)
    pod = redis_pod(jobs)["template"]["spec"]

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"] == {"command": PING}, probe
    assert container["securityContext"] == ct.default_values()["securityContext"]
    assert pod["securityContext"] == ct.default_values()["podSecurityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "250m", "memory": "256Mi"},
    }
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data", "/etc/redis"}


def test_the_append_only_file_is_on_a_claim_or_an_empty_dir() -> None:
    claim = ct.values_file(ct.CHART_DIR / "ci" / "jobs-values.yaml")
    (template,) = redis_pod(ct.render(claim))["volumeClaimTemplates"]

    assert template["spec"]["storageClassName"] == "standard"
    assert template["spec"]["resources"] == {"requests": {"storage": "2Gi"}}
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    (default_class,) = redis_pod(ct.render(JOBS))["volumeClaimTemplates"]
    assert "storageClassName" not in default_class["spec"]  # the cluster's default class
    off = ct.render({"jobs": {"enabled": True, "redis": {"persistence": {"enabled": False}}}})
    assert "volumeClaimTemplates" not in redis_pod(off)
    volumes = {v["name"]: v for v in redis_pod(off)["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}


def test_only_this_releases_api_and_workers_reach_redis(jobs: list[dict[str, Any]]) -> None:
    (policy,) = [p for p in ct.kinds(jobs, "NetworkPolicy") if p["metadata"]["name"] == REDIS]
    spec = policy["spec"]
    pods = {name: t["metadata"]["labels"] for name, t in ct.pod_templates(jobs)}
    (ingress,) = spec["ingress"]

    def picks(selector: dict[str, Any]) -> list[str]:
        labels = selector["matchLabels"].items()
        return [name for name, found in pods.items() if labels <= found.items()]

    assert picks(spec["podSelector"]) == [f"StatefulSet/{REDIS}"]
    assert [picks(peer["podSelector"]) for peer in ingress["from"]] == [
        [f"Deployment/{ct.RELEASE}"],
        [f"Deployment/{ct.RELEASE}-jobs"],
    ]
    assert all(p["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == ct.RELEASE
               for p in ingress["from"])  # fmt: skip
    assert ingress["ports"] == [{"port": 6379, "protocol": "TCP"}]
    assert (spec["policyTypes"], spec["egress"]) == (["Ingress", "Egress"], [])


# --- the password Secret ------------------------------------------------------------------


def password(docs: list[dict[str, Any]]) -> str:
    (secret,) = ct.kinds(docs, "Secret")
    assert secret["metadata"]["name"] == REDIS
    return base64.b64decode(secret["data"]["password"]).decode()


def test_a_new_install_gets_a_random_alphanumeric_password() -> None:
    first, second = password(ct.render(JOBS)), password(ct.render(JOBS))

    assert len(first) == 32 and first.isalnum() and first.isascii()
    assert first != second  # `lookup` found no live Secret: a fresh random one


def render_with_live_secret(tmp_path: Path, live: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart rendered as on an upgrade: its `lookup` of the Secret answers `live`.

    Rendering has no cluster here, so a copy of the chart has the call replaced by the
    object a cluster would return; everything else is the real template and Helm's engine.
    """
    chart = tmp_path / "corebound"
    shutil.copytree(ct.CHART_DIR, chart)
    template = chart / "templates" / "jobs-redis-secret.yaml"
    call = 'lookup "v1" "Secret" .Release.Namespace $name'
    assert template.read_text().count(call) == 1
    answer = f"fromJson {json.dumps(json.dumps(live))}"
    template.write_text(template.read_text().replace(call, answer))
    opts = {"name": ct.RELEASE, "namespace": ct.NAMESPACE, "kube_version": "v1.33.0"}
    with helm_python.Chart.load(chart) as loaded:
        rendered = _native.call_string(
            "helm_render", loaded._raw(), json.dumps(JOBS), json.dumps(opts)
        )
    files: dict[str, str] = json.loads(rendered)
    return ct.yaml_docs(files)


def test_an_upgrade_keeps_the_live_password(tmp_path: Path) -> None:
    live = {"data": {"password": base64.b64encode(b"KeptAcrossUpgrades1").decode()}}

    assert password(render_with_live_secret(tmp_path, live)) == "KeptAcrossUpgrades1"
    assert len(password(render_with_live_secret(tmp_path / "empty", {}))) == 32


def test_an_existing_secret_replaces_the_charts() -> None:
    docs = ct.render({"jobs": {"enabled": True, "redis": {"existingSecret": "mine"}}})
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for _, spec in ct.pod_specs(docs)
        for c in spec["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    ]

    assert ct.kinds(docs, "Secret") == []
    assert refs == [{"name": "mine", "key": "password"}] * 3  # the API, the workers, Redis


# --- the rendered command and config, run by the real redis-server -------------------------


@pytest.fixture
def started(tmp_path: Path, jobs: list[dict[str, Any]]) -> Iterator[tuple[int, int]]:
    """(pid, port) of redis-server run by the container's command on its rendered config,
    the port and directories moved into tmp_path."""
    assert shutil.which("redis-server"), "redis-server is missing: scripts/setup --system"
    port = free_port()
    (tmp_path / "data").mkdir()
    conf = redis_conf(jobs).replace("port 6379", f"port {port}")
    (tmp_path / "redis.conf").write_text(conf.replace("dir /data", f"dir {tmp_path / 'data'}"))
    command = redis_container(jobs)["command"]
    command[2] = command[2].replace("/etc/redis/redis.conf", str(tmp_path / "redis.conf"))
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": "s3cret"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 20
        while cli(port, "s3cret", "ping").returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "redis never answered"
            time.sleep(0.05)
        yield process.pid, port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def cli(port: int, auth: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The probes' redis-cli (-e: a refused command fails) on this port."""
    env = {"PATH": os.environ["PATH"], **({"REDISCLI_AUTH": auth} if auth else {})}
    command = [PING[0], "-p", str(port), *PING[1:-1], *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=10)


def test_the_command_starts_redis_with_the_password_from_its_env(
    started: tuple[int, int],
) -> None:
    pid, port = started

    assert cli(port, "s3cret", "ping").stdout.strip() == "PONG"
    assert cli(port, None, "ping").returncode == 1  # the probe fails without the password
    assert cli(port, "wrong", "ping").returncode == 1
    config = cli(port, "s3cret", "config", "get", "append*").stdout.split()
    assert dict(zip(config[::2], config[1::2], strict=True))["appendfsync"] == "always"
    # exec: the container's PID 1 is redis-server itself (SIGTERM reaches it), its argv clean.
    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert argv.startswith(b"redis-server") and b"s3cret" not in argv
