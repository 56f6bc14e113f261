"""A job as GET /v1/jobs/{id} shows it: our record in Redis merged with Celery's result.

Pure functions, no I/O. Our record (`corebound:job:<id>`, a hash) says queued or running,
when, and how many runs started; Celery's result (`celery-task-meta-<id>`, JSON) holds the
answer or the failure. Celery's word wins once it has one: its result is stored before our
record says succeeded, and a hard time limit is recorded by Celery alone at first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

RECORD_PREFIX = "corebound:job:"
# Celery's Redis result backend key (KeyValueStoreBackend.task_keyprefix, no global prefix).
RESULT_PREFIX = "celery-task-meta-"
STATUSES = ("queued", "running", "succeeded", "failed")
KINDS = ("predict", "infer")


class JobFailed(Exception):
    """The job cannot succeed: its message is the answer's `error`."""


def record_key(job_id: str) -> str:
    return RECORD_PREFIX + job_id


def result_key(job_id: str) -> str:
    return RESULT_PREFIX + job_id


def now() -> str:
    """A timestamp as records and answers carry it: ISO 8601, UTC."""
    return datetime.now(UTC).isoformat()


def parse_id(text: str) -> str | None:
    """The canonical form of a job id (a UUID), or None when `text` is none."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def new_record(kind: str, submitted_at: str) -> dict[str, str]:
    return {"status": "queued", "kind": kind, "submitted_at": submitted_at, "runs": "0"}


def not_found(job_id: str, ttl_s: int) -> str:
    return f"no job {job_id}: unknown, or finished more than JOB_RESULT_TTL_S={ttl_s} s ago"


def view(job_id: str, record: dict[str, str], meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The job's answer; None when it is unknown or its result expired (404)."""
    if not record:
        return None
    status = record.get("status", "queued")
    state = meta.get("status") if meta else None
    answer: dict[str, Any] = {
        "id": job_id,
        "status": status,
        "kind": record.get("kind", "predict"),
        "submitted_at": record.get("submitted_at"),
    }
    for stamp in ("started_at", "finished_at"):
        if record.get(stamp):
            answer[stamp] = record[stamp]
    answer["runs"] = int(record.get("runs", 0))
    if meta is not None and state == "SUCCESS":
        answer["status"] = "succeeded"
        answer["result"] = meta.get("result")
    elif meta is not None and state == "FAILURE":
        answer["status"] = "failed"
        answer["error"] = record.get("error") or failure_text(meta.get("result"))
    elif status == "succeeded":
        return None  # the result is gone: as good as expired
    elif status == "failed":
        answer["error"] = record.get("error") or "failed"
    if answer["status"] in ("succeeded", "failed") and "finished_at" not in answer and meta:
        done = meta.get("date_done")
        if done:
            answer["finished_at"] = _utc(str(done))
    return answer


def failure_text(result: Any) -> str:
    """What Celery stored for a failure (its JSON form of the exception) as one message."""
    if not isinstance(result, dict):
        return str(result)
    kind = str(result.get("exc_type", "error"))
    message = result.get("exc_message")
    if isinstance(message, list | tuple):
        message = ", ".join(str(m) for m in message)
    if kind == JobFailed.__name__ and message:
        return str(message)
    if kind == "TimeLimitExceeded":
        return f"the job ran longer than JOB_TIME_LIMIT_S ({message} s) and was stopped"
    if kind == "WorkerLostError":
        return f"the worker running it was lost: {message}"
    return f"{kind}: {message}" if message else kind


def _utc(text: str) -> str:
    """Celery's date_done (naive UTC, or aware) as our timestamps are written."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return text
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()
