"""The job settings (service/settings.py): defaults, derived values, and the rules across
variables refused at start-up naming the variables, never echoing Redis's password."""

from __future__ import annotations

import pytest

from service.settings import DEFAULT_HEARTBEAT_FILE, Settings, load_settings

URL = "redis://:s3cret-pass@127.0.0.1:6379/0"


def test_jobs_default_off_with_the_contract_defaults() -> None:
    s = Settings()

    assert (s.jobs_enabled, s.redis_url, s.job_queue) == (False, None, "corebound-jobs")
    assert (s.job_max_rows, s.job_max_body_bytes, s.job_max_queued) == (4096, None, 1000)
    assert (s.job_retry_after_s, s.job_result_ttl_s, s.job_time_limit_s) == (5, 86400, 600)
    assert (s.job_visibility_s, s.job_max_runs) == (1200, 3)  # unset: twice the time limit
    assert s.job_heartbeat_file == DEFAULT_HEARTBEAT_FILE
    assert DEFAULT_HEARTBEAT_FILE.name == "corebound-jobs-heartbeat"


def test_env_names_are_the_field_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"JOBS_ENABLED": "true", "REDIS_URL": URL, "JOB_QUEUE": "q1", "JOB_MAX_ROWS": "10"}
    env |= {"JOB_TIME_LIMIT_S": "4", "JOB_VISIBILITY_TIMEOUT_S": "8", "JOB_MAX_RUNS": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    s = load_settings()

    assert s.jobs_enabled and s.redis_url_text() == URL and s.job_queue == "q1"
    assert (s.job_max_rows, s.job_time_limit_s, s.job_visibility_s, s.job_max_runs) == (10, 4, 8, 2)


def refusal(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    return str(exited.value)


def test_jobs_enabled_needs_a_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, {"JOBS_ENABLED": "true"})

    assert "JOBS_ENABLED=true needs REDIS_URL" in message


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"JOB_TIME_LIMIT_S": "10", "JOB_VISIBILITY_TIMEOUT_S": "10"}, "(10) must exceed"),
        ({"JOB_TIME_LIMIT_S": "10", "JOB_VISIBILITY_TIMEOUT_S": "5"}, "(5) must exceed"),
        ({"JOB_MAX_ROWS": "0"}, "JOB_MAX_ROWS='0'"),
        ({"JOB_MAX_BODY_BYTES": "10"}, "JOB_MAX_BODY_BYTES='10'"),
        ({"JOB_MAX_RUNS": "0"}, "JOB_MAX_RUNS='0'"),
        ({"JOB_QUEUE": "two words"}, "JOB_QUEUE='two words'"),
    ],
)
def test_bad_job_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], words: str
) -> None:
    message = refusal(monkeypatch, env)

    assert "invalid configuration" in message and words in message


def test_a_visibility_timeout_no_longer_than_the_time_limit_names_both() -> None:
    with pytest.raises(ValueError, match="JOB_VISIBILITY_TIMEOUT_S \\(600\\) must exceed"):
        Settings(job_time_limit_s=600, job_visibility_timeout_s=600)
    assert Settings(job_time_limit_s=600, job_visibility_timeout_s=601).job_visibility_s == 601


def test_a_bad_redis_url_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, {"REDIS_URL": "http://:s3cret-pass@host:6379"})

    assert "REDIS_URL=<hidden>" in message and "redis://" in message
    assert "s3cret-pass" not in message


def test_the_redis_url_is_secret_in_the_settings_repr() -> None:
    s = Settings(jobs_enabled=True, redis_url=URL)

    assert "s3cret-pass" not in repr(s) and s.redis_url_text() == URL
