"""A load-test run as `kubectl create job --from=cronjob/...` makes it, with `set env` applied.

Pure functions of the CronJob objects, so the tests check them without a cluster; cli.py
sends what they return.
"""

from __future__ import annotations

import copy
from typing import Any

from scripts.cluster_loadtest.timeline import job_condition

# kubectl's mark on a Job made by hand from a CronJob (`kubectl create job --from`).
INSTANTIATE = {"cronjob.kubernetes.io/instantiate": "manual"}


def job_from_cronjob(cronjob: dict[str, Any], name: str, env: dict[str, str]) -> dict[str, Any]:
    """The Job `kubectl create job --from=cronjob/<it> <name>` creates, with `env` set."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    meta = template.get("metadata") or {}
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": meta.get("labels") or {},
            "annotations": {**(meta.get("annotations") or {}), **INSTANTIATE},
            # Owned by the CronJob, as kubectl makes it: it goes with the release.
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "controller": True,
                "name": cronjob["metadata"]["name"], "uid": cronjob["metadata"]["uid"],
            }],
        },
        "spec": template["spec"],
    }  # fmt: skip
    for container in job["spec"]["template"]["spec"]["containers"]:
        set_env(container, env)
    return job


def set_env(container: dict[str, Any], env: dict[str, str]) -> None:
    """`kubectl set env`: replace a variable of that name, else add it (env wins over envFrom)."""
    current = [e for e in container.get("env") or [] if e["name"] not in env]
    container["env"] = current + [{"name": k, "value": v} for k, v in env.items()]


def active_masters(jobs: list[dict[str, Any]]) -> list[str]:
    """Names of master Jobs still running: one run at a time, the workers find any master."""
    return [str(job["metadata"]["name"]) for job in jobs if job_condition(job) is None]
