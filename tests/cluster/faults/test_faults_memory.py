"""Fault 5: the node runs short of memory until the kubelet evicts, under load.

The kubelet evicts by QoS: first pods using more than they requested (a BestEffort pod
requested nothing), never a Guaranteed pod within its limit while such a pod exists.
corebound's pods are Guaranteed (request = limit, sized by the memory plan). The node's
threshold is raised to just under what is free now, so a 3 GiB hog crosses it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from scripts.localcluster.layout import NODE_NAME

from ..kube import Cluster
from .harness import (
    install,
    local_layout,
    node_command,
    pods,
    run_pod,
    settle_after_kubelet_restart,
    under_load,
)
from .report import Fault, record

NAMESPACE = "faults-memory"
HOG = "memory-hog"
HOG_MIB = 3072
MARGIN_MIB = 1536  # the threshold sits this far under what is free before the hog starts
HOG_CODE = (
    "import time\nheld = []\n"
    f"for _ in range({HOG_MIB // 64}):\n"
    "    held.append(bytearray(b'x') * (64 << 20))  # written, so resident\n"
    "    time.sleep(0.05)\n"
    "time.sleep(3600)\n"
)


def available_mib(cluster: Cluster) -> int:
    """What the kubelet's eviction manager compares to memory.available: the node's summary."""
    raw = cluster.kubectl("get", "--raw", f"/api/v1/nodes/{NODE_NAME}/proxy/stats/summary")
    summary = json.loads(raw.stdout)
    return int(summary["node"]["memory"]["availableBytes"]) // (1 << 20)


def dropin(threshold_mib: int) -> str:
    # Every hard threshold is given: a drop-in's map replaces kubelet.yaml's whole map.
    return yaml.safe_dump({
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "evictionHard": {"memory.available": f"{threshold_mib}Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "evictionPressureTransitionPeriod": "10s",
    })  # fmt: skip


def evicted(cluster: Cluster) -> list[str]:
    items = cluster.json("get", "pods", "--all-namespaces")["items"]
    return sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in items
                  if p["status"].get("reason") == "Evicted")  # fmt: skip


def test_memory_pressure_evicts_the_best_effort_hog_not_corebound(
    cluster: Cluster, tmp_path: Path
) -> None:
    local_layout(cluster)
    fault = Fault("5-memory", "5. node memory pressure until the kubelet evicts", "",
                  "0 failed; no corebound pod evicted")  # fmt: skip
    install(cluster, NAMESPACE, "--set", "resources.cpu=500m", "--set",
            "autoscaling.enabled=false", "--set", "replicaCount=2")  # fmt: skip
    before = {p["metadata"]["uid"] for p in pods(cluster, NAMESPACE)}
    config = tmp_path / "eviction.yaml"
    try:
        threshold = available_mib(cluster) - MARGIN_MIB
        config.write_text(dropin(threshold))
        set_threshold = node_command("kubelet-dropin", "eviction", "--file", str(config))
        set_threshold = set_threshold.replace(str(config), config.name)
        settle_after_kubelet_restart(cluster, NAMESPACE)
        with under_load(cluster, NAMESPACE, fault, 6, 30):
            run_pod(cluster, NAMESPACE, HOG, ["python", "-c", HOG_CODE])  # BestEffort
            began = time.monotonic()
            while HOG not in " ".join(evicted(cluster)) and time.monotonic() - began < 120:
                time.sleep(1)
            fault.figures["hog_evicted_after_s"] = round(time.monotonic() - began, 1)
        gone = evicted(cluster)
        after = {p["metadata"]["uid"] for p in pods(cluster, NAMESPACE)}
    finally:
        cluster.kubectl("--namespace", NAMESPACE, "delete", "pod", HOG, "--ignore-not-found")
        node_command("kubelet-dropin", "eviction", "--remove")
        cluster.remove_namespace(NAMESPACE, "corebound")
    fault.command = (f"{set_threshold} (memory.available<{threshold}Mi: free then less "
                     f"{MARGIN_MIB} MiB); kubectl apply -f {HOG}.yaml (BestEffort, "
                     f"writes {HOG_MIB} MiB)")  # fmt: skip
    fault.figures["evicted"] = gone
    fault.reached = fault.failed == 0 and before == after and f"{NAMESPACE}/{HOG}" in gone
    record(fault)
    assert f"{NAMESPACE}/{HOG}" in gone, f"the kubelet did not evict the hog: {gone}"
    assert before == after, "a corebound pod was evicted or replaced"
    assert not [name for name in gone if name.startswith(f"{NAMESPACE}/corebound")], gone
    assert fault.requests > 100 and fault.failed == 0 and fault.restarts == 0, fault
