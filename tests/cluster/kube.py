"""The real `kubectl` and `helm` CLIs against the cluster the tests run on, and port-forwards."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.local.net import free_port

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "corebound"


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl_bin: str
    helm_bin: str
    images: dict[str, str]  # Dockerfile target -> image reference the cluster can run

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.kubectl_bin, *args], self.env(), check, timeout, input)

    def helm(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.helm_bin, *args], self.env(), check, timeout, None)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def image_values(self) -> list[str]:
        """--set flags that point the chart at the images this cluster holds."""
        service_repo, service_tag = self.images["service"].rsplit(":", 1)
        loadtest_repo, loadtest_tag = self.images["loadtest"].rsplit(":", 1)
        return [
            "--set", f"image.repository={service_repo}", "--set", f"image.tag={service_tag}",
            "--set", f"loadtest.image.repository={loadtest_repo}",
            "--set", f"loadtest.image.tag={loadtest_tag}",
        ]  # fmt: skip

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
