"""The job API in the cluster (chart `jobs.enabled`): 200 jobs of about 5 s submitted through
the Service by a client pod, a job worker pod killed mid-run and the Redis pod deleted while
jobs are queued; every job must end succeeded with its right output, and the job workers' HPA
must scale on CPU while the queue is long. Delivery is at least once: the re-runs are printed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import model_server
from .kube import Cluster, stop

NAMESPACE = "jobs"
HERE = Path(__file__).resolve().parent
WORKERS = "app.kubernetes.io/component=jobs"
REDIS_POD = "corebound-redis-0"
JOBS_HPA = "corebound-jobs"
CLIENT = "jobs-client"


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    tmp = tmp_path_factory.mktemp("jobs")
    (tmp / "burn" / "code").mkdir(parents=True)
    (tmp / "burn" / "weights").mkdir()
    (tmp / "burn" / "code" / "burn.py").write_text((HERE / "burn_model.py").read_text())
    (tmp / "burn" / "weights" / "README").write_text("the burn model holds no weights\n")
    model_server.serve(cluster, NAMESPACE, [model_server.pack(tmp / "burn", tmp / "burn.tar.gz")])
    values = model_server.fetched(cluster, NAMESPACE, "burn.tar.gz", "/models")
    values["model"] = {"class": "burn:load", "dir": "/models/weights", "sizeMiB": 1, "inputDim": 4}
    values["extraEnv"] = [{"name": "PYTHONPATH", "value": "/app:/models/code"}]
    values["jobs"] = {
        "enabled": True,
        # 60 s at most a run, so an unacknowledged job comes back 120 s after it was taken.
        "timeLimitSeconds": 60,
        "worker": {
            "resources": {"cpu": "300m"},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 4,
                            "targetCPUUtilizationPercentage": 50},
        },
        "redis": {"resources": {"cpu": "100m", "memory": "128Mi"}},
    }  # fmt: skip
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", NAMESPACE,
        *cluster.image_values(NAMESPACE), "--values", str(tmp / "values.yaml"),
        "--set", "resources.cpu=250m", "--set", "autoscaling.enabled=false",
        "--set", "replicaCount=1", "--wait", "--timeout", "5m",
    )  # fmt: skip
    yield
    cluster.remove_namespace(NAMESPACE, "corebound")


def start_client(cluster: Cluster) -> None:
    cluster.kubectl("--namespace", NAMESPACE, "create", "configmap", "jobs-client",
                    f"--from-file=jobs_client.py={HERE / 'jobs_client.py'}")  # fmt: skip
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": CLIENT, "namespace": NAMESPACE},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "client", "image": cluster.images["service"],
                "command": ["python", "/client/jobs_client.py"],
                "env": [{"name": "BASE_URL",
                         "value": f"http://corebound.{NAMESPACE}.svc.cluster.local"},
                        {"name": "JOBS", "value": "200"},
                        {"name": "SECONDS_PER_JOB", "value": "5"}],
                "securityContext": model_server.RESTRICTED,
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "100m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "client", "mountPath": "/client"}],
            }],
            "volumes": [{"name": "client", "configMap": {"name": "jobs-client"}}],
        },
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))


def client_events(cluster: Cluster) -> list[dict[str, Any]]:
    log = cluster.kubectl("--namespace", NAMESPACE, "logs", CLIENT, check=False).stdout
    events = []
    for line in log.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def wait_for(cluster: Cluster, test: Any, what: str, timeout_s: float) -> dict[str, Any]:
    """The client's latest event once `test(event)` holds for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = client_events(cluster)
        if events and test(events[-1]):
            return events[-1]
        phase = cluster.json("--namespace", NAMESPACE, "get", "pod", CLIENT)["status"]["phase"]
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(3)
    log = cluster.kubectl("--namespace", NAMESPACE, "logs", CLIENT, check=False).stdout
    raise AssertionError(f"waited for {what}; the client ({phase}) said:\n{log[-3000:]}")


def oldest_worker(cluster: Cluster) -> str:
    """The job worker pod running longest: the one surely taking jobs from the queue."""
    pods = cluster.json("--namespace", NAMESPACE, "get", "pods", "-l", WORKERS)["items"]
    running = [p for p in pods if p["status"]["phase"] == "Running"]
    return str(min(running, key=lambda p: p["metadata"]["creationTimestamp"])["metadata"]["name"])


def kill_mid_job(cluster: Cluster, pod: str) -> None:
    """Deletes `pod` with a 1 s grace right after Celery logs that it took a job (5 s long):
    SIGTERM starts the warm shutdown, SIGKILL ends it mid-job, so the job's message stays
    unacknowledged in Redis and comes back after the visibility timeout."""
    follow = subprocess.Popen(
        [cluster.kubectl_bin, "--namespace", NAMESPACE, "logs", "--follow", "--since=1s", pod],
        env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        for line in follow.stdout:
            if "received" in line and "corebound.job" in line:
                break
        else:
            raise AssertionError(f"{pod} took no job before its log ended")
        cluster.kubectl("--namespace", NAMESPACE, "delete", "pod", pod, "--grace-period=1",
                        "--wait=false")  # fmt: skip
    finally:
        stop(follow)


class ReplicaSampler(threading.Thread):
    """The job workers' HPA, sampled every 5 s: the most replicas it asked for."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.cluster, self.most, self.halt = cluster, 0, threading.Event()

    def run(self) -> None:
        while not self.halt.wait(5):
            hpa = self.cluster.json("--namespace", NAMESPACE, "get", "hpa", JOBS_HPA)
            self.most = max(self.most, int(hpa["status"].get("desiredReplicas") or 0))


def test_every_job_survives_a_killed_worker_and_a_restarted_redis(
    cluster: Cluster, release: None
) -> None:
    sampler = ReplicaSampler(cluster)
    sampler.start()
    start_client(cluster)
    wait_for(cluster, lambda e: e["event"] != "", "the client's submissions", 300)
    at_kill = wait_for(cluster, lambda e: e.get("succeeded", 0) >= 20, "20 jobs done", 600)
    kill_mid_job(cluster, oldest_worker(cluster))
    at_redis = wait_for(cluster, lambda e: e.get("succeeded", 0) >= 60, "60 jobs done", 600)
    before = cluster.json("--namespace", NAMESPACE, "get", "pod", REDIS_POD)["metadata"]["uid"]
    cluster.kubectl("--namespace", NAMESPACE, "delete", "pod", REDIS_POD, "--wait=true")
    summary = wait_for(cluster, lambda e: e["event"] == "summary", "the summary", 1500)
    sampler.halt.set()
    redis = cluster.json("--namespace", NAMESPACE, "get", "pod", REDIS_POD)
    print(json.dumps({"summary": summary, "pending_at_worker_kill": at_kill["pending"],
                      "pending_at_redis_delete": at_redis["pending"],
                      "most_job_worker_replicas": sampler.most}))  # fmt: skip
    assert summary["succeeded"] == summary["jobs"] == 200, summary
    assert summary["lost"] == 0 and summary["unfinished"] == 0 and not summary["wrong"], summary
    assert not summary["failed"], summary
    assert at_redis["pending"] > 0, "Redis was deleted with no job queued"
    assert redis["metadata"]["uid"] != before, "the Redis pod was not replaced"
    assert summary["reruns"] >= 1, "the killed worker's job never ran again"
    assert sampler.most >= 2, "the job workers' HPA never scaled out"
    # The summary is the client's last line, printed a moment before its process exits.
    cluster.kubectl("--namespace", NAMESPACE, "wait", f"pod/{CLIENT}", "--timeout=60s",
                    "--for=jsonpath={.status.phase}=Succeeded")  # fmt: skip
