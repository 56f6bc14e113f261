"""Faults 7 and 8: hostile clients from a pod while Locust's users are served.

7: 10,000 idle connections to one pod. Each worker holds at most MAX_CONNECTIONS_PER_WORKER
and closes the longest-idle one for a newcomer (nginx's drain), so the pod keeps serving the
others, within its memory plan. 8: uploads streaming far past the body limit each read
their 413: the server drains and discards the rest before closing (lingering close).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..kube import REPO, Cluster
from .harness import file_configmap, install, pods, run_pod, under_load
from .report import Fault, record

NAMESPACE = "faults-http"
CLIENT_CODE = REPO / "tests" / "cluster" / "faults" / "hostile_client.py"
IDLE, IDLE_S = 10_000, 20
BODY_BYTES = 4 << 20  # ten times the default body limit (431,104 bytes)
CLIENTS, ROUNDS = 8, 3


@pytest.fixture(scope="module")
def release(cluster: Cluster) -> Iterator[None]:
    file_configmap(cluster, NAMESPACE, "hostile-client", CLIENT_CODE)
    install(cluster, NAMESPACE, "--set", "resources.cpu=500m", "--set",
            "autoscaling.enabled=false", "--set", "replicaCount=2")  # fmt: skip
    yield
    cluster.remove_namespace(NAMESPACE, "corebound")


def run_client(cluster: Cluster, name: str, timeout_s: float, *args: str) -> dict[str, Any]:
    run_pod(cluster, NAMESPACE, name, ["python", "/code/hostile_client.py", *args],
            resources={"requests": {"cpu": "250m", "memory": "256Mi"},
                       "limits": {"cpu": "250m", "memory": "256Mi"}},
            volumeMounts=[{"name": "code", "mountPath": "/code", "readOnly": True}],
            volumes=[{"name": "code", "configMap": {"name": "hostile-client"}}])  # fmt: skip
    cluster.kubectl("--namespace", NAMESPACE, "wait", f"pod/{name}", f"--timeout={timeout_s}s",
                    "--for=jsonpath={.status.phase}=Succeeded")  # fmt: skip
    log = cluster.kubectl("--namespace", NAMESPACE, "logs", name).stdout
    return dict(json.loads(log.strip().splitlines()[-1])["counts"])


def memory(cluster: Cluster, pod: str) -> dict[str, float]:
    """The container's cgroup: its peak and its limit, MiB (cgroup v1 files)."""
    read = ("print(open('/sys/fs/cgroup/memory/memory.max_usage_in_bytes').read(), "
            "open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read())")  # fmt: skip
    out = cluster.kubectl("--namespace", NAMESPACE, "exec", pod, "--", "python", "-c", read)
    peak, limit = (int(n) / (1 << 20) for n in out.stdout.split())
    return {"peak_mib": round(peak, 1), "limit_mib": round(limit, 1)}


def test_10000_idle_connections_to_one_pod_leave_it_serving(
    cluster: Cluster, release: None
) -> None:
    fault = Fault("7-idle-connections", f"7. {IDLE:,} idle connections to one pod", "",
                  "no 5xx, no OOM, memory within the plan; the pod keeps serving")  # fmt: skip
    target = pods(cluster, NAMESPACE)[0]
    address = target["status"]["podIP"]
    with under_load(cluster, NAMESPACE, fault, 6, IDLE_S + 10):
        fault.command = f"python hostile_client.py idle {address} 8000 {IDLE} {IDLE_S} (in a pod)"
        counts = run_client(cluster, "idle-client", IDLE_S + 180, "idle", address, "8000",
                            str(IDLE), str(IDLE_S))  # fmt: skip
    used = memory(cluster, target["metadata"]["name"])
    fault.figures.update({"client": counts, "flooded_pod_memory": used})
    statuses = {k for k in counts if k.startswith("answered")}
    fault.reached = fault.failed == 0 and fault.restarts == 0 and used["peak_mib"] < used[
        "limit_mib"] and statuses <= {"answered 503", "answered 408"}  # fmt: skip
    record(fault)
    assert counts["opened"] >= IDLE, counts
    assert statuses <= {"answered 503", "answered 408"}, counts  # never another status
    assert fault.requests > 100 and fault.failed == 0 and fault.restarts == 0, fault
    assert used["peak_mib"] < used["limit_mib"], used


def test_uploads_past_the_limit_each_read_their_413(cluster: Cluster, release: None) -> None:
    fault = Fault("8-oversize-uploads", f"8. {CLIENTS} clients at once streaming 4 MiB bodies "
                  "past the 421 KiB limit", "", "every 413 read")  # fmt: skip
    host = f"corebound.{NAMESPACE}.svc.cluster.local"
    args = ["oversize", host, "80", "/v1/predict", str(CLIENTS), str(ROUNDS), str(BODY_BYTES)]
    began = time.monotonic()
    with under_load(cluster, NAMESPACE, fault, 6, 30):
        fault.command = f"python hostile_client.py {' '.join(args)} (in a pod)"
        counts = run_client(cluster, "oversize-client", 300, *args)
    fault.figures["client"] = counts
    fault.figures["uploads_s"] = round(time.monotonic() - began, 1)
    read = counts.get("chunked: 413", 0) + counts.get("length: 413", 0)
    fault.reached = read == 2 * CLIENTS * ROUNDS and fault.failed == 0
    record(fault)
    assert read == 2 * CLIENTS * ROUNDS, counts
    assert fault.requests > 100 and fault.failed == 0 and fault.restarts == 0, fault
