"""The job API's memory plan (service/sizing): the job body bytes B, the API pod's one job
body per worker with JOBS_ENABLED, and the job worker's plan (body B, one parse slot).
The chart's _sizing.tpl mirrors these; its parity test calls the same functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.settings import Settings
from service.sizing import planning
from service.sizing.cgroups import MIB
from service.sizing.formula import (
    BODY_EXPANSION,
    DEFAULT_BODY_BYTES,
    job_body_bytes,
    largest_body_bytes,
    plan,
    request_mib,
)
from service.sizing.planning import plan_for, planned_job_body_bytes

DEFAULT_JOB_BODY = 6_836_224  # 4096 rows x (64 x 26 + 4) + 4096: JOB_MAX_ROWS' largest body


@pytest.fixture(autouse=True)
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "detect_cpu_limit", lambda: 4.0)
    monkeypatch.setattr(planning, "cgroup_memory_limit_mib", lambda: None)


def settings(tmp_path: Path, input_dim: int = 64, **kw: Any) -> Settings:
    path = tmp_path / "model"
    path.mkdir(exist_ok=True)
    (path / "model.json").write_text(json.dumps({"name": "m", "input_dim": input_dim}))
    return Settings(model_dir=path, **kw)


def test_job_body_bytes_is_the_largest_job_or_the_setting() -> None:
    assert job_body_bytes(4096, 64) == largest_body_bytes(4096, 64) == DEFAULT_JOB_BODY
    assert job_body_bytes(4096, 64, 1_000_000) == 1_000_000


def test_an_api_worker_serving_jobs_plans_one_job_body_more() -> None:
    without = plan(4, 100)
    serving = plan(4, 100, job_body_bytes=DEFAULT_JOB_BODY)

    one_job = DEFAULT_JOB_BODY * (1 + BODY_EXPANSION) / MIB
    assert serving.request_mib == pytest.approx(without.request_mib + one_job)
    assert one_job == request_mib(DEFAULT_JOB_BODY, 1)
    assert serving.memory_mib - without.memory_mib in range(int(4 * one_job), int(4 * one_job) + 2)
    assert (serving.job_body_bytes, without.job_body_bytes) == (DEFAULT_JOB_BODY, 0)


def test_the_api_plan_counts_jobs_only_when_enabled(tmp_path: Path) -> None:
    off = plan_for(settings(tmp_path))
    on = plan_for(settings(tmp_path, jobs_enabled=True, redis_url="redis://h:6379/0"))

    assert off.job_body_bytes == 0 and on.job_body_bytes == DEFAULT_JOB_BODY
    assert on.max_body_bytes == off.max_body_bytes == DEFAULT_BODY_BYTES
    assert on.request_mib == pytest.approx(off.request_mib + request_mib(DEFAULT_JOB_BODY, 1))
    assert on.workers == off.workers == 4


def test_the_job_worker_plans_one_job_body_per_process(tmp_path: Path) -> None:
    s = settings(tmp_path, redis_url="redis://h:6379/0")

    worker = plan_for(s, role="jobs")

    same = plan(4, worker.model_mib, max_body_bytes=DEFAULT_JOB_BODY, parse_concurrency=1)
    assert worker == same
    assert worker.request_mib == DEFAULT_JOB_BODY * (1 + BODY_EXPANSION) / MIB
    assert (worker.workers, worker.threads, worker.job_body_bytes) == (4, 1, 0)


def test_the_job_worker_follows_web_concurrency_and_job_limits(tmp_path: Path) -> None:
    s = settings(tmp_path, input_dim=8, web_concurrency=2, job_max_rows=100, parse_concurrency=8)

    worker = plan_for(s, role="jobs")

    assert planned_job_body_bytes(s) == largest_body_bytes(100, 8)
    assert (worker.workers, worker.threads) == (2, 2)
    assert worker.max_body_bytes == largest_body_bytes(100, 8)
    assert worker.request_mib == request_mib(largest_body_bytes(100, 8), 1)  # not 8 slots


def test_job_max_body_bytes_wins_over_rows(tmp_path: Path) -> None:
    s = settings(tmp_path, job_max_body_bytes=2048, jobs_enabled=True, redis_url="redis://h/0")

    assert planned_job_body_bytes(s) == 2048
    assert plan_for(s).job_body_bytes == plan_for(s, role="jobs").max_body_bytes == 2048
