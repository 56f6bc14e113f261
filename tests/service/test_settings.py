"""Configuration from the environment: defaults, and bad values refused naming the variable."""

from __future__ import annotations

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
    ):
        load_settings()
