"""Fault 6: a gunicorn worker SIGKILLed inside a pod, then a worker's inference thread hung.

The killed worker costs only its own in-flight requests: gunicorn's master starts another
and the pod is never restarted. A hung inference thread fails every probe of its pod (the
health board: service/inference/health_board.py), so the pod leaves the Service and the
liveness probe restarts it, and only it, after the probe's window.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from ..kube import REPO, Cluster
from .harness import file_configmap, install, pods, restarts, under_load
from .report import Fault, record

NAMESPACE = "faults-workers"
MAX_CALL_S = 5
USERS = 6
HANG_MODEL = REPO / "tests" / "cluster" / "hang_model.py"
# gunicorn is PID 1; its workers are its children (read from /proc: the image has no ps).
WORKERS = (
    "import os; print(' '.join(p for p in os.listdir('/proc') if p.isdigit() and "
    "open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == '1'))"
)
# The hang model blocks forever on a row whose first value is 1e6 (tests/cluster/hang_model.py).
HANG = ("import json, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:8000/v1/predict', "
        "json.dumps({'inputs': [[1e6] + [0] * 63]}).encode(), "
        "{'Content-Type': 'application/json'}), timeout=600)")  # fmt: skip


@pytest.fixture(scope="module")
def release(cluster: Cluster) -> Iterator[None]:
    file_configmap(cluster, NAMESPACE, "hang-model", HANG_MODEL)
    install(
        cluster, NAMESPACE, "--set", "resources.cpu=750m", "--set", "concurrency.workers=2",
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=2",
        "--set", "model.class=hang_model:load", "--set", f"model.maxCallSeconds={MAX_CALL_S}",
        "--set", "extraEnv[0].name=PYTHONPATH", "--set", "extraEnv[0].value=/app:/models/code",
        "--set", "extraVolumes[0].name=hang-code",
        "--set", "extraVolumes[0].configMap.name=hang-model",
        "--set", "extraVolumeMounts[0].name=hang-code",
        "--set", "extraVolumeMounts[0].mountPath=/models/code",
        "--set", "extraVolumeMounts[0].readOnly=true",
    )  # fmt: skip
    yield
    cluster.remove_namespace(NAMESPACE, "corebound")


def exec_in(cluster: Cluster, pod: str, code: str) -> str:
    return cluster.kubectl("--namespace", NAMESPACE, "exec", pod, "--", "python", "-c",
                           code).stdout.strip()  # fmt: skip


def pod_restarts(cluster: Cluster) -> dict[str, int]:
    return {p["metadata"]["name"]: sum(s["restartCount"] for s in p["status"]["containerStatuses"])
            for p in pods(cluster, NAMESPACE)}  # fmt: skip


def test_a_killed_worker_costs_only_its_in_flight_requests(cluster: Cluster, release: None) -> None:
    fault = Fault("6a-worker-killed", "6a. one gunicorn worker SIGKILLed in a pod", "",
                  "only its in-flight requests fail; no pod restarted")  # fmt: skip
    pod = sorted(pod_restarts(cluster))[0]
    workers = exec_in(cluster, pod, WORKERS).split()
    with under_load(cluster, NAMESPACE, fault, USERS, 20):
        fault.command = (
            f"kubectl exec {pod} -- python -c 'os.kill(<worker pid>, 9)' (1 of {len(workers)})"
        )
        exec_in(cluster, pod, f"import os; os.kill({workers[0]}, 9)")
        time.sleep(5)
        after = exec_in(cluster, pod, WORKERS).split()
    fault.figures["workers_before_after"] = [workers, after]
    # In flight on one worker: at most every user's request, were they all on it at once.
    fault.reached = fault.failed <= USERS and fault.restarts == 0
    record(fault)
    assert workers[0] not in after and len(after) == len(workers), "no worker replaced it"
    assert fault.requests > 100 and fault.failed <= USERS and fault.restarts == 0, fault


def test_a_hung_inference_thread_restarts_its_pod_and_only_it(
    cluster: Cluster, release: None
) -> None:
    fault = Fault(
        "6b-thread-hung",
        "6b. a worker's inference thread hung in a pod",
        "",
        "liveness restarts only that pod, after MAX_CALL_S + the probe's window",
    )
    before = pod_restarts(cluster)
    hung, other = sorted(before)
    with under_load(cluster, NAMESPACE, fault, USERS, 60):
        fault.command = f"kubectl exec {hung} -- python -c '<POST a row of 1e6 to /v1/predict>'"
        hang = subprocess.Popen(
            [cluster.kubectl_bin, "--namespace", NAMESPACE, "exec", hung, "--", "python", "-c",
             HANG], env=cluster.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        began = time.monotonic()
        try:
            while pod_restarts(cluster)[hung] == before[hung] and time.monotonic() - began < 120:
                time.sleep(1)
            fault.figures["restarted_after_s"] = round(time.monotonic() - began, 1)
        finally:
            hang.kill()
            hang.wait()
    after = pod_restarts(cluster)
    fault.figures["restarts_by_pod"] = {"hung": after[hung] - before[hung],
                                        "other": after[other] - before[other]}  # fmt: skip
    fault.figures["window_s"] = f"MAX_CALL_S {MAX_CALL_S} + liveness 3 x 10 s"
    fault.reached = after[hung] == before[hung] + 1 and after[other] == before[other]
    record(fault)
    assert after[hung] == before[hung] + 1, f"the hung pod was not restarted: {after}"
    assert after[other] == before[other], f"the healthy pod was restarted: {after}"
    assert restarts(cluster, NAMESPACE) == sum(after.values())
