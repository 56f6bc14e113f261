"""The real `kubectl` and `helm` CLIs against the cluster the tests run on, and port-forwards."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.local.net import free_port

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "corebound"


PULL_SECRET = "regcred"  # the name the README and NOTES use


@dataclass(frozen=True)
class Registry:
    """Where the release was pushed and how to log in (None fields: a public registry)."""

    host: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None

    def docker_config(self) -> str:
        """The `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret for it."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        entry = {"username": self.username, "password": self.password, "auth": token}
        return json.dumps({"auths": {self.host: entry}})


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl_bin: str
    helm_bin: str
    images: dict[str, str]  # Dockerfile target -> the released image, by its version tag
    chart: str  # oci://<registry>/<path>/corebound, as users install it, or a chart folder
    chart_version: str | None = None
    registry: Registry | None = None
    helm_registry_config: Path | None = None  # Helm's login to the registry, made once
    release: dict[str, Any] = field(default_factory=dict)  # the release command's JSON
    # Another build of the images pushed under a revision of the test's, its JSON returned.
    rebuild: Callable[[str], dict[str, Any]] | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        if self.helm_registry_config is not None:
            env["HELM_REGISTRY_CONFIG"] = str(self.helm_registry_config)
        return env

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.kubectl_bin, *args], self.env(), check, timeout, input)

    def helm(
        self, *args: str, check: bool = True, timeout: float = 900, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.helm_bin, *args], self.env(), check, timeout, input)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def chart_ref(self) -> list[str]:
        """The chart argument of `helm install/upgrade`: the released chart from its registry."""
        ref = [self.chart]
        if self.chart_version:
            ref += ["--version", self.chart_version]
        if self.registry and self.registry.ca_file:
            ref += ["--ca-file", str(self.registry.ca_file)]
        return ref

    def image_values(self, namespace: str) -> list[str]:
        """--set flags for the released images, after making the namespace and its pull secret
        (the secret must exist before the first pod pulls, or it waits out a back-off)."""
        values = ["--set", f"image.repository={self.images['service'].rsplit(':', 1)[0]}"]
        if self.prepare_namespace(namespace):
            values += ["--set", f"imagePullSecrets[0].name={PULL_SECRET}"]
        return values

    def prepare_namespace(self, namespace: str, password: str | None = None,
                          name: str = PULL_SECRET) -> bool:  # fmt: skip
        """Creates the namespace and a docker-registry secret for the registry in it, given to
        the namespace's default ServiceAccount too (pods the tests make themselves use it).
        False when the registry takes no login."""
        if self.kubectl("get", "namespace", namespace, check=False).returncode != 0:
            self.kubectl("create", "namespace", namespace)
        if self.registry is None or self.registry.username is None:
            return False
        secret = self.kubectl(
            "--namespace", namespace, "create", "secret", "docker-registry", name,
            f"--docker-server={self.registry.host}",
            f"--docker-username={self.registry.username}",
            f"--docker-password={password or self.registry.password}",
            "--dry-run=client", "-o", "yaml",
        ).stdout  # fmt: skip
        self.kubectl("apply", "-f", "-", input=secret)
        if name == PULL_SECRET:
            self._default_account_pulls_with(namespace, name)
        return True

    def remove_namespace(self, namespace: str, *releases: str, check: bool = False) -> None:
        """Uninstalls `releases` as users do, then deletes the namespace, its pods stopped
        first: a namespace controller that finds pods looks again only after half their grace
        period (preStop sleep + drain + margin), about 30 s a namespace."""
        for release in releases:
            self.helm("uninstall", release, "--namespace", namespace, "--wait", check=check)
        self.stop_pods(namespace)
        self.kubectl("delete", "namespace", namespace, "--wait=true", check=check)

    def stop_pods(self, namespace: str) -> None:
        """Deletes the namespace's pods with a 1 s grace, their controllers first (orphaning
        them) so that none is made again."""
        ns = ("--namespace", namespace)
        self.kubectl(*ns, "delete", "deployments,statefulsets,replicasets,jobs,cronjobs",
                     "--all", "--cascade=orphan", check=False)  # fmt: skip
        self.kubectl(*ns, "delete", "pods", "--all", "--grace-period=1", "--wait=true",
                     "--timeout=120s", check=False)  # fmt: skip

    def _default_account_pulls_with(self, namespace: str, secret: str) -> None:
        patch = json.dumps({"imagePullSecrets": [{"name": secret}]})
        deadline = time.monotonic() + 60  # the controller makes `default` just after the ns
        while True:
            done = self.kubectl("--namespace", namespace, "patch", "serviceaccount", "default",
                                "-p", patch, check=time.monotonic() > deadline)  # fmt: skip
            if done.returncode == 0:
                return
            time.sleep(0.5)

    def assert_no_restarts(self, namespace: str) -> None:
        """No service container restarted or was OOM-killed (the memory plan held)."""
        pods = self.json("--namespace", namespace, "get", "pods", "-l",
                         "app.kubernetes.io/name=corebound")["items"]  # fmt: skip
        for pod in pods:
            for status in pod["status"].get("containerStatuses") or []:
                last = (status.get("lastState") or {}).get("terminated") or {}
                assert status["restartCount"] == 0 and last.get("reason") != "OOMKilled", (
                    pod["metadata"]["name"],
                    status,
                )

    @contextmanager
    def port_forward(self, namespace: str, target: str, remote_port: int) -> Iterator[int]:
        """`kubectl port-forward` to a free local port on 127.0.0.1; yields that port."""
        port = free_port()
        proc = subprocess.Popen(
            [self.kubectl_bin, "--namespace", namespace, "port-forward", "--address", "127.0.0.1",
             target, f"{port}:{remote_port}"],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_port(port, proc)
            yield port
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(10)
    if proc.stdout:
        proc.stdout.close()


def _run(argv: list[str], env: dict[str, str], check: bool, timeout: float,
         input: str | None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:6])} ... exited {done.returncode}:\n{done.stdout[-3000:]}"
            f"\n{done.stderr[-3000:]}"
        )
    return done


def wait_port(port: int, proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"port-forward exited {proc.returncode}: {out}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"port-forward never listened on 127.0.0.1:{port}")


def dns_label(text: str) -> str:
    """A namespace/release name from a test's name."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].rstrip("-")


def namespace_per_test(cluster: Cluster, prefix: str, test_name: str) -> Iterator[str]:
    """A fixture body: a namespace named after the test, its release and itself removed after."""
    name = dns_label(f"{prefix}-{test_name.removeprefix('test_')}")
    yield name
    cluster.remove_namespace(name, "corebound")
