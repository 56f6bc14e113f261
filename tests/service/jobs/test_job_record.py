"""service/jobs/record.py: a job as GET shows it, merged from our record and Celery's
result; ids, keys and the expiry message."""

from __future__ import annotations

from typing import Any

import pytest

from service.jobs.record import (
    JobFailed,
    failure_text,
    new_record,
    not_found,
    parse_id,
    record_key,
    result_key,
    view,
)

ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
QUEUED = new_record("predict", "2026-01-01T00:00:00+00:00")
RUNNING = {**QUEUED, "status": "running", "started_at": "2026-01-01T00:00:01+00:00", "runs": "1"}
RESULT = {"outputs": [[0.5, 0.5]], "labels": ["a"]}


def meta(status: str, result: Any, date_done: str | None = "2026-01-01T00:00:03.5") -> Any:
    return {"status": status, "result": result, "date_done": date_done, "task_id": ID}


def test_keys_and_ids() -> None:
    assert record_key(ID) == f"corebound:job:{ID}"
    assert result_key(ID) == f"celery-task-meta-{ID}"
    assert parse_id(ID.upper()) == ID
    assert parse_id("not-a-job") is None and parse_id("") is None


def test_queued_and_running_come_from_our_record() -> None:
    assert view(ID, QUEUED, None) == {
        "id": ID,
        "status": "queued",
        "kind": "predict",
        "submitted_at": QUEUED["submitted_at"],
        "runs": 0,
    }
    running = view(ID, RUNNING, None)
    assert running is not None
    assert (running["status"], running["runs"], running["started_at"]) == (
        "running",
        1,
        RUNNING["started_at"],
    )
    assert "result" not in running and "error" not in running


def test_celerys_success_wins_and_carries_the_result() -> None:
    # Celery stores the result before our record says succeeded: in between, it is done.
    answer = view(ID, RUNNING, meta("SUCCESS", RESULT))

    assert answer is not None
    assert (answer["status"], answer["result"]) == ("succeeded", RESULT)
    assert answer["finished_at"] == "2026-01-01T00:00:03.500000+00:00"  # date_done, as UTC


def test_a_finished_record_keeps_its_own_finish_time() -> None:
    record = {**RUNNING, "status": "succeeded", "finished_at": "2026-01-01T00:00:02+00:00"}

    answer = view(ID, record, meta("SUCCESS", RESULT))

    assert answer is not None and answer["finished_at"] == record["finished_at"]


def test_a_failure_says_why_from_our_record_first() -> None:
    failed = {**RUNNING, "status": "failed", "error": "worker lost 3 times running it"}
    stored = {"exc_type": "JobFailed", "exc_message": ["other words"], "exc_module": "x"}

    answer = view(ID, failed, meta("FAILURE", stored))

    assert answer is not None
    assert (answer["status"], answer["error"]) == ("failed", failed["error"])
    assert "result" not in answer


def test_a_hard_time_limit_recorded_by_celery_alone_is_a_failure() -> None:
    stored = {"exc_type": "TimeLimitExceeded", "exc_message": [4.0], "exc_module": "billiard"}

    answer = view(ID, RUNNING, meta("FAILURE", stored))

    assert answer is not None and answer["status"] == "failed"
    assert "JOB_TIME_LIMIT_S" in answer["error"]


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        ({"exc_type": "JobFailed", "exc_message": ["bad rows"]}, "bad rows"),
        ({"exc_type": "ValueError", "exc_message": ["x", 1]}, "ValueError: x, 1"),
        ({"exc_type": "WorkerLostError", "exc_message": []}, "the worker running it was lost: "),
        ("plain", "plain"),
    ],
)
def test_failure_text(stored: Any, text: str) -> None:
    assert failure_text(stored) == text
    assert JobFailed.__name__ == "JobFailed"  # the name Celery stores


def test_unknown_or_expired_is_none() -> None:
    assert view(ID, {}, None) is None
    assert view(ID, {}, meta("SUCCESS", RESULT)) is None  # no record: expired with it
    # Our record outlived Celery's result by a moment: the answer is gone, as expired.
    assert view(ID, {**RUNNING, "status": "succeeded"}, None) is None


def test_the_expiry_message_names_the_setting() -> None:
    assert not_found("x", 60) == (
        "no job x: unknown, or finished more than JOB_RESULT_TTL_S=60 s ago"
    )
