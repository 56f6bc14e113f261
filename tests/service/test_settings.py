"""Configuration from the environment: defaults, and bad values refused naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, load_settings


def test_defaults_are_valid_and_point_at_the_default_model() -> None:
    settings = Settings()
    assert settings.model_dir.joinpath("model.json").exists()
    assert (settings.max_wait_ms, settings.concurrency_mode, settings.model_mmap) == (
        0.0,
        "throughput",
        True,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_BATCH_SIZE": "0"}, "MAX_BATCH_SIZE='0'"),
        ({"CONCURRENCY_MODE": "fast"}, "CONCURRENCY_MODE='fast'"),
        ({"WEB_CONCURRENCY": "lots"}, "WEB_CONCURRENCY='lots'"),
        ({"REQUEST_TIMEOUT_S": "-1"}, "REQUEST_TIMEOUT_S='-1'"),
        ({"MODEL_DIR": "/nonexistent/model"}, "MODEL_DIR="),
        ({"MODEL_CLASS": "nocolon"}, "MODEL_CLASS='nocolon'"),
        ({"GRACEFUL_TIMEOUT": "30s"}, "GRACEFUL_TIMEOUT='30s'"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud'"),
        ({"PARSE_CONCURRENCY": "0"}, "PARSE_CONCURRENCY='0'"),
        ({"HEADER_TIMEOUT_S": "0"}, "HEADER_TIMEOUT_S='0'"),
        ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES='10'"),
    ],
)
def test_bad_values_exit_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert "invalid configuration" in str(exited.value) and named in str(exited.value)


def test_a_request_larger_than_the_queue_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ROWS_PER_REQUEST", "512")
    monkeypatch.setenv("MAX_QUEUE_ROWS", "256")
    with pytest.raises(
        SystemExit, match="MAX_ROWS_PER_REQUEST \\(512\\) must not exceed MAX_QUEUE_ROWS"
    ) as exited:
        load_settings()
    assert "settings=" not in str(exited.value).lower()  # the rule names its variables


def test_gunicorn_and_metrics_settings_are_read_through_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRACEFUL_TIMEOUT", "45")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings = load_settings()
    assert (settings.graceful_timeout, settings.log_level) == (45, "warning")
    assert settings.prometheus_multiproc_dir == tmp_path
