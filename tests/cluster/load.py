"""Steady load from inside the cluster: the project's own Locust image as a plain Pod.

Traffic goes through the Service's DNS name, as clients do, so a rollout or a lost pod shows
as failed requests in Locust's JSON summary (the last line of its log).
"""

from __future__ import annotations

import time
from typing import Any

import yaml

from loadtests import slo

from .kube import Cluster


def locust_pod(cluster: Cluster, namespace: str, name: str, users: int, seconds: int) -> str:
    """A one-step Locust run of `users` users for `seconds`; any failed request fails it."""
    env = {
        "LOCUST_HOST": f"http://corebound.{namespace}.svc.cluster.local",
        "STEP_USERS": str(users),
        "STEP_SECONDS": str(seconds),
        "STEP_COUNT": "1",
        "SPAWN_RATE": str(users),
        # New connections every few requests: endpoint changes reach the clients at once.
        "RECYCLE_EVERY": "20",
        "SLO_MAX_FAILURE_RATIO": "0",
        "SLO_P95_MS": "60000",
        "SLO_P99_MS": "60000",
    }
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "locust",
                "image": cluster.images["loadtest"],
                "imagePullPolicy": "IfNotPresent",
                "args": ["-f", "loadtests/locustfile.py,loadtests/shapes/step.py", "--headless"],
                "env": [{"name": k, "value": v} for k, v in env.items()],
                "securityContext": restricted,
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                              "limits": {"cpu": "250m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))
    cluster.kubectl("--namespace", namespace, "wait", f"pod/{name}",
                    "--for=jsonpath={.status.phase}=Running", "--timeout=120s")  # fmt: skip
    return name


def summary(cluster: Cluster, namespace: str, name: str, timeout_s: float) -> dict[str, Any]:
    """Waits for the Locust pod to end; its phase and the JSON summary it printed last."""
    deadline = time.monotonic() + timeout_s
    phase = ""
    while time.monotonic() < deadline:
        phase = cluster.json("--namespace", namespace, "get", "pod", name)["status"]["phase"]
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(2)
    log = cluster.kubectl("--namespace", namespace, "logs", name).stdout
    result = slo.summary_in(log)
    assert result is not None, f"no JSON summary in the Locust log (phase {phase}):\n{log[-2000:]}"
    result["phase"] = phase
    return result
