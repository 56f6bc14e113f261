"""A job API client run as a pod in the cluster (standard library only: the service image's Python).

Submits JOBS jobs to the Service (`POST /v1/jobs`), each row `[SECONDS, i, i % 7, 1]` for the
burn model (tests/cluster/burn_model.py: it spends row 0's first value in seconds of CPU and
answers twice each row's sum), honours 503 + Retry-After, then polls every job until it ends.
Prints JSON lines: `submitted`, `progress` every sweep, and last a `summary`: how many
succeeded with the right output, failed, were lost (404 after being accepted) or wrong, and the
re-runs the service reported. Exits 0 only when every job succeeded with its right output.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

BASE = urlsplit(os.environ["BASE_URL"])
JOBS = int(os.environ.get("JOBS", "200"))
SECONDS = float(os.environ.get("SECONDS_PER_JOB", "5"))
DEADLINE_S = float(os.environ.get("DEADLINE_S", "1200"))
SWEEP_S = 3.0
errors = {"submit_503": 0, "poll_503": 0, "connection_errors": 0}


def call(method: str, path: str, body: Any = None) -> tuple[int, Any, Any]:
    """One request on a fresh connection; (0, {}, None) when the connection failed."""
    conn = http.client.HTTPConnection(BASE.hostname or "localhost", BASE.port or 80, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, data, {"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        # response.headers: case-insensitive (uvicorn writes them lower-case).
        return response.status, response.headers, json.loads(raw) if raw else None
    except (OSError, http.client.HTTPException, ValueError):
        errors["connection_errors"] += 1
        return 0, {}, None
    finally:
        conn.close()


def row(i: int) -> list[float]:
    return [SECONDS, float(i), float(i % 7), 1.0]


def submit(i: int) -> str:
    while True:
        status, headers, answer = call("POST", "/v1/jobs", {"inputs": [row(i)]})
        if status == 202:
            assert headers.get("Location") == f"/v1/jobs/{answer['id']}", headers
            return str(answer["id"])
        if status == 503:
            errors["submit_503"] += 1
            time.sleep(float(headers.get("Retry-After", "1")))
        elif status == 0:
            time.sleep(1)
        else:
            raise SystemExit(f"job {i}: submission answered {status}: {answer}")


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main() -> int:
    start = time.monotonic()
    ids = {submit(i): i for i in range(JOBS)}
    emit("submitted", jobs=len(ids), seconds=round(time.monotonic() - start, 1))
    pending = dict(ids)
    done: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() - start < DEADLINE_S:
        counts: dict[str, int] = {}
        for job_id, i in list(pending.items()):
            status, _, answer = call("GET", f"/v1/jobs/{job_id}")
            if status == 503:
                errors["poll_503"] += 1
                continue
            if status == 0:
                continue
            state = "lost" if status == 404 else answer["status"]
            counts[state] = counts.get(state, 0) + 1
            if state in ("succeeded", "failed", "lost"):
                done[job_id] = {"i": i, "state": state, "answer": answer}
                del pending[job_id]
        finished = sum(1 for d in done.values() if d["state"] == "succeeded")
        emit("progress", succeeded=finished, pending=len(pending), states=counts,
             seconds=round(time.monotonic() - start, 1))  # fmt: skip
        time.sleep(SWEEP_S)
    wrong = [
        d["i"]
        for d in done.values()
        if d["state"] == "succeeded"
        and d["answer"]["result"]["outputs"] != [[2 * sum(row(d["i"]))]]
    ]
    runs = [int(d["answer"].get("runs", 1)) for d in done.values() if d["state"] == "succeeded"]
    summary = {
        "jobs": JOBS,
        "succeeded": sum(1 for d in done.values() if d["state"] == "succeeded"),
        "failed": [d["answer"].get("error") for d in done.values() if d["state"] == "failed"],
        "lost": sum(1 for d in done.values() if d["state"] == "lost"),
        "unfinished": len(pending),
        "wrong": wrong,
        "reruns": sum(r - 1 for r in runs),
        "rerun_jobs": sum(1 for r in runs if r > 1),
        "seconds": round(time.monotonic() - start, 1),
        **errors,
    }
    emit("summary", **summary)
    ok = summary["succeeded"] == JOBS and not wrong
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
