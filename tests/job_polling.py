"""The live job tests' client side: submit a body, poll its job until it finished, and the
environment that points the API and a job worker at one Redis."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

FINISHED = ("succeeded", "failed")


def jobs_env(redis_url: str, heartbeat: Path, **env: str) -> dict[str, str]:
    """JOBS_ENABLED on one Redis; each worker its own heartbeat file (tests may share /dev/shm)."""
    return {"JOBS_ENABLED": "true", "REDIS_URL": redis_url, "JOB_HEARTBEAT_FILE": str(heartbeat),
            **env}  # fmt: skip


def submit(client: httpx.Client, path: str, body: Any) -> str:
    """The job's Location, after asserting the 202 the contract names."""
    response = client.post(path, json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    location = response.headers["location"]
    assert location == f"/v1/jobs/{response.json()['id']}"
    return str(location)


def wait_for(client: httpx.Client, location: str, statuses: tuple[str, ...] = FINISHED,
             timeout_s: float = 60) -> dict[str, Any]:  # fmt: skip
    """GET `location` until its status is one of `statuses`; the job."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"still {job['status']} after {timeout_s} s: {job}"
        time.sleep(0.1)


def succeeded(client: httpx.Client, location: str, timeout_s: float = 60) -> dict[str, Any]:
    job = wait_for(client, location, timeout_s=timeout_s)
    assert job["status"] == "succeeded", job
    return job
