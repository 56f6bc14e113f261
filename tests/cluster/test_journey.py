"""The user's journey as the README and the chart's NOTES.txt tell it, run as written.

The commands are read from those texts (not retyped here): only the local port is swapped
for a free one and the release's namespace added, as a user in another namespace would.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from .commands import fenced_section, first, shell_commands
from .kube import REPO, Cluster, free_port, stop, wait_port

NAMESPACE = "journey"


@pytest.fixture(scope="module")
def notes(cluster: Cluster) -> Iterator[str]:
    # No --wait: the README's `helm test` must itself wait for a ready pod (it is run first).
    installed = cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE), "--set", "resources.cpu=500m",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=1",
    )  # fmt: skip
    yield installed.stdout
    cluster.remove_namespace(NAMESPACE, "corebound", check=True)


def _in_namespace(command: str) -> list[str]:
    argv = shlex.split(command)
    if "--namespace" not in argv and "-n" not in argv:
        argv[1:1] = ["--namespace", NAMESPACE]
    return argv


def test_notes_helm_test_passes_with_logs(cluster: Cluster, notes: str) -> None:
    command = first(shell_commands(notes), r"^helm test .*test-predict.* --logs")
    argv = shlex.split(command)
    done = cluster.helm(*argv[1:], check=False, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    # The probe's own answer, printed through `--logs` (the pod was kept for it).
    assert '"label": "0"' in done.stdout or '"labels": ["0"]' in done.stdout, done.stdout


def _forwarded(cluster: Cluster, command: str) -> tuple[subprocess.Popen[str], int]:
    argv = _in_namespace(command)
    _local, remote = argv[-1].split(":")
    port = free_port()
    argv[-1] = f"{port}:{remote}"
    proc = subprocess.Popen(
        [cluster.kubectl_bin, *argv[1:], "--address", "127.0.0.1"], env=cluster.env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    wait_port(port, proc)
    return proc, port


def _curl(command: str, port: int) -> dict[str, object]:
    command = re.sub(r"localhost:\d+", f"127.0.0.1:{port}", command)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_readme_port_forward_and_curl_give_the_right_label(cluster: Cluster, notes: str) -> None:
    readme = (REPO / "README.md").read_text()
    forward = first(shell_commands(fenced_section(readme, "On Kubernetes")), r"port-forward")
    api = fenced_section(readme, "The API")
    predict = first(shell_commands(api), r"/v1/predict")
    expected = re.search(r'"labels":\["(\d)"\]', api)
    assert expected, "the README's API section shows no expected label"
    test_notes_helm_test_passes_with_logs(cluster, notes)  # a ready pod, as a user would wait
    proc, port = _forwarded(cluster, forward)
    try:
        answer = _curl(predict, port)
    finally:
        stop(proc)
    assert answer["labels"] == [expected.group(1)]


def test_notes_port_forward_and_curl(cluster: Cluster, notes: str) -> None:
    commands = shell_commands(notes)
    proc, port = _forwarded(cluster, first(commands, r"port-forward"))
    try:
        info = _curl(first(commands, r"curl -s localhost:\d+/info"), port)
        answer = _curl(first(commands, r"/v1/predict"), port)
    finally:
        stop(proc)
    assert info["plan"]["cpu_limit"] == 0.5  # type: ignore[index]
    assert answer["labels"] == ["0"]
