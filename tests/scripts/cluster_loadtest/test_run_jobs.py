"""The runner's Jobs are what `kubectl create job --from=cronjob/...` and `set env` make."""

from __future__ import annotations

from typing import Any

import yaml

from scripts.cluster_loadtest.jobs import active_masters, job_from_cronjob

CRONJOB = yaml.safe_load("""
metadata: {name: corebound-loadtest, uid: 1234}
spec:
  suspend: true
  jobTemplate:
    metadata:
      labels: {app.kubernetes.io/component: loadtest-master}
    spec:
      backoffLimit: 0
      template:
        spec:
          containers:
            - name: locust
              envFrom: [{configMapRef: {name: corebound-loadtest}}]
              env:
                - {name: LOCUST_MODE_MASTER, value: "true"}
                - {name: SLO_P99_MS, value: "500"}
""")


def test_the_job_is_the_cronjobs_template_owned_by_it_and_marked_manual() -> None:
    job = job_from_cronjob(CRONJOB, "run-1", {})

    assert job["metadata"]["name"] == "run-1"
    assert job["metadata"]["labels"] == {"app.kubernetes.io/component": "loadtest-master"}
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("CronJob", "corebound-loadtest", 1234)
    assert job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]
    assert "suspend" not in job["spec"]


def test_env_replaces_a_variable_of_that_name_and_adds_the_others() -> None:
    job = job_from_cronjob(CRONJOB, "run-2", {"SLO_P99_MS": "1", "LOAD_SHAPE": "spike"})
    env: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"][0]["env"]

    assert env == [
        {"name": "LOCUST_MODE_MASTER", "value": "true"},
        {"name": "SLO_P99_MS", "value": "1"},
        {"name": "LOAD_SHAPE", "value": "spike"},
    ]
    # The CronJob itself is untouched: the next run starts from the chart's settings.
    template_env = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SLO_P99_MS", "value": "500"} in template_env["env"]


def test_a_master_runs_until_its_job_completes_or_fails() -> None:
    def job(name: str, *conditions: tuple[str, str]) -> dict[str, Any]:
        found = [{"type": t, "status": s} for t, s in conditions]
        return {"metadata": {"name": name}, "status": {"conditions": found}}

    jobs = [
        job("done", ("Complete", "True")),
        job("failed", ("Failed", "True")),
        job("running"),
        job("suspended", ("Suspended", "True")),
        job("not-yet", ("Failed", "False")),
    ]
    assert active_masters(jobs) == ["running", "suspended", "not-yet"]
