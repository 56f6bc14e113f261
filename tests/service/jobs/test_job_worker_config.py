"""The Celery configuration (the contract's list), the job worker's command line and plan
environment, and the heartbeat probe: no broker needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from paths import REPO

from service.inference.preparation import BLAS_VARS
from service.jobs.celery_app import TASK_NAME, celery_config, create_celery
from service.jobs.heartbeat import STALE_S, Beat
from service.jobs.probe import check
from service.jobs.record import result_key
from service.jobs.worker import prepare, worker_argv
from service.settings import Settings
from service.sizing.planning import PLAN_ENV, plan_for

URL = "redis://:pw@127.0.0.1:6390/0"
SETTINGS = Settings(
    redis_url=URL,
    job_queue="q",
    job_time_limit_s=4,
    job_visibility_timeout_s=8,
    job_result_ttl_s=60,
)


def test_the_contracts_celery_settings() -> None:
    conf = celery_config(SETTINGS)

    assert conf["broker_url"] == conf["result_backend"] == URL
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] == 8
    assert conf["broker_transport_options"]["unacked_restore_throttle"] == 1  # 10 s sweeps
    assert conf["result_backend_transport_options"] == {"visibility_timeout": 8}
    assert (conf["task_time_limit"], conf["result_expires"]) == (4, 60)
    assert conf["accept_content"] == conf["result_accept_content"] == ["json"]
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["task_default_queue"] == "q"
    assert conf["broker_connection_retry_on_startup"] and conf["result_backend_always_retry"]


def test_the_api_publishes_without_a_result_backend() -> None:
    assert celery_config(SETTINGS, results=False)["result_backend"] is None
    app = create_celery(SETTINGS, results=False)
    assert type(app.backend).__name__ == "DisabledBackend"


def test_our_result_key_is_celerys() -> None:
    backend = create_celery(SETTINGS).backend

    assert backend.get_key_for_task("abc").decode() == result_key("abc")
    assert TASK_NAME == "corebound.job"


def test_the_worker_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_for(SETTINGS, role="jobs")

    argv = worker_argv(SETTINGS, plan)

    assert argv[:3] == ["worker", "--pool=prefork", f"--concurrency={plan.workers}"]
    assert argv[3:11] == ["-Q", "q", "-O", "fair", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "--loglevel=INFO"]  # fmt: skip


def test_prepare_exports_the_plan_and_blas_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*BLAS_VARS, PLAN_ENV):
        monkeypatch.setenv(var, "")  # put back as it was after the test: prepare() sets them

    plan = prepare(Settings(redis_url=URL, web_concurrency=1, omp_num_threads=3))

    assert all(os.environ[var] == "3" for var in BLAS_VARS) and plan.threads == 3
    assert f'"workers": {plan.workers}' in os.environ[PLAN_ENV] and plan.workers == 1


def test_the_worker_refuses_to_start_without_redis() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}

    done = subprocess.run(
        [sys.executable, "-m", "service.jobs.worker"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 1 and "needs REDIS_URL" in done.stderr


def test_the_main_process_never_loads_numpy() -> None:
    # BLAS must read the plan's threads in each child; the main process imports no numpy.
    code = (
        "import sys; from service.jobs import worker, task, celery_app, heartbeat;"
        "print('numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_the_probe_wants_a_fresh_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert check(beat) == (False, {"check": "jobs-heartbeat", "ok": False, "file": str(beat),
                                   "reason": "no heartbeat file: the job worker has not"
                                   " started its loop"})  # fmt: skip
    beat.touch()
    assert check(beat)[0]
    old = time.time() - 61
    os.utime(beat, (old, old))
    fresh, line = check(beat)
    assert not fresh and "limit 60 s" in str(line["reason"])


def test_the_probe_command_exits_by_the_file(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    env = {**os.environ, "JOB_HEARTBEAT_FILE": str(beat)}
    command = [sys.executable, "-m", "service.jobs.probe"]

    missing = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    beat.touch()
    fresh = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)

    assert (missing.returncode, fresh.returncode) == (1, 0)
    assert '"ok": true' in fresh.stdout


def test_the_heartbeat_beats_while_the_loop_turns_or_waits_for_redis(tmp_path: Path) -> None:
    beat = Beat(tmp_path / "beat")
    assert beat.alive()  # starting: waiting for the broker
    beat.waiting = False
    beat.turned = time.monotonic() - STALE_S - 1
    assert not beat.alive()  # connected, and the loop stopped turning: stuck
    beat.turn()
    assert beat.alive()
    beat.turned, beat.waiting = 0.0, True
    assert beat.alive()  # reconnecting (or draining on SIGTERM)
