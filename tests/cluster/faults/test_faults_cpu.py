"""Fault 4: a BestEffort pod burns every core of the node, under the CPU manager's two policies.

`none` (the default): the Guaranteed pod's CFS quota and its cpu.shares (1024 per core, the
BestEffort pod's 2) keep it served; it shares the cores. `static`: a Guaranteed pod asking
whole CPUs gets cores of its own (its cpuset, so its affinity mask), the burner the others.
Each policy: the same load without the burner, then with it; the p99s side by side.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..kube import Cluster
from .harness import install, local_layout, node_command, pods, run_pod, under_load
from .report import Fault, record

NAMESPACE = "faults-cpu"
USERS = 4
SECONDS = 15
BURNER = "burner"
# What the static policy needs: a CPU reservation (whole cores are kept back from exclusive
# use: ceil(100m) = 1 on this 2-core node) and a kubelet started on a fresh checkpoint.
STATIC = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cpuManagerPolicy: static
kubeReserved:
  cpu: 100m
"""
AFFINITY = "import os, json; print(json.dumps(sorted(os.sched_getaffinity(0))))"
INFO = (
    "import urllib.request; "
    "print(urllib.request.urlopen('http://127.0.0.1:8000/info').read().decode())"
)


# One busy process per core of the node.
BURN = (
    "import multiprocessing, os\n"
    "def spin():\n    while True: pass\n"
    "for _ in range(os.cpu_count()): multiprocessing.Process(target=spin).start()\n"
)


def exec_python(cluster: Cluster, pod: str, code: str) -> Any:
    out = cluster.kubectl("--namespace", NAMESPACE, "exec", pod, "--", "python", "-c", code)
    return json.loads(out.stdout)


def measure(cluster: Cluster, policy: str, setup: str = "") -> None:
    fault = Fault(f"4-cpu-{policy}", f"4. BestEffort pod burning every core, CPU manager "
                  f"`{policy}`", "", "0 failed; p99 within 2x of no burner")  # fmt: skip
    install(cluster, NAMESPACE, "--set", "resources.cpu=1", "--set", "autoscaling.enabled=false",
            "--set", "replicaCount=1")  # fmt: skip
    try:
        pod = pods(cluster, NAMESPACE)[0]["metadata"]["name"]
        info = exec_python(cluster, pod, INFO)
        fault.figures["affinity"] = exec_python(cluster, pod, AFFINITY)
        fault.figures["plan"] = {k: info["plan"][k] for k in ("cpus", "workers", "threads")
                                 if k in info["plan"]}  # fmt: skip
        baseline = Fault("baseline", "", "", "")
        with under_load(cluster, NAMESPACE, baseline, USERS, SECONDS):
            pass
        with under_load(cluster, NAMESPACE, fault, USERS, SECONDS):
            run_pod(cluster, NAMESPACE, BURNER, ["python", "-c", BURN])  # BestEffort
            cluster.kubectl("--namespace", NAMESPACE, "wait", f"pod/{BURNER}",
                            "--for=jsonpath={.status.phase}=Running", "--timeout=60s")  # fmt: skip
            fault.command = (
                f"{setup}kubectl apply -f {BURNER}.yaml (BestEffort, a spinning process per core)"
            )
        burner_affinity = exec_python(cluster, BURNER, AFFINITY)
    finally:
        cluster.kubectl("--namespace", NAMESPACE, "delete", "pod", BURNER, "--ignore-not-found",
                        "--wait=true")  # fmt: skip
        cluster.remove_namespace(NAMESPACE, "corebound")
    fault.figures.update({
        "burner_affinity": burner_affinity, "baseline_requests": baseline.requests,
        "baseline_failed": baseline.failed, "baseline_p99_ms": baseline.p99_ms,
        "p99_factor": round(fault.p99_ms / max(baseline.p99_ms, 1.0), 2),
    })  # fmt: skip
    fault.reached = fault.failed == 0 and fault.figures["p99_factor"] <= 2
    record(fault)
    assert fault.requests > 100 and fault.failed == 0 and baseline.failed == 0, fault
    assert fault.figures["plan"]["workers"] == 1, fault.figures
    if policy == "static":
        # Exclusive: one core of its own, read as one by the sizing, and not the burner's.
        assert len(fault.figures["affinity"]) == 1, fault.figures
        assert not set(fault.figures["affinity"]) & set(burner_affinity), fault.figures


def test_a_noisy_neighbour_under_the_default_cpu_manager(cluster: Cluster) -> None:
    local_layout(cluster)
    measure(cluster, "none")


def test_a_noisy_neighbour_under_the_static_cpu_manager(cluster: Cluster, tmp_path: Path) -> None:
    local_layout(cluster)
    dropin = tmp_path / "static.yaml"
    dropin.write_text(STATIC)
    try:
        setup = node_command("kubelet-dropin", "cpu-manager", "--file", str(dropin))
        time.sleep(5)  # the node's allocatable CPU, less the reservation, reaches the scheduler
        measure(cluster, "static", setup.replace(str(dropin), dropin.name) + "; ")
    finally:
        node_command("kubelet-dropin", "cpu-manager", "--remove")
