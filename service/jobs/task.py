"""The one Celery task, its record keeping, and the children's model loading.

Registered by the job worker only (the API publishes by name). Runs in a prefork child:
our record says running (and counts the run) before the model is called; Celery stores the
answer, then our record says succeeded. A hard time limit kills the child, so the main
process records that failure itself (JobRequest).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import Ignore, Reject
from celery.signals import worker_process_init
from celery.worker.request import Request

from service.jobs.celery_app import TASK_NAME
from service.jobs.record import JobFailed
from service.jobs.store import ALREADY_FINISHED, NO_RECORD, store_for
from service.settings import Settings
from service.sizing.planning import inherited_plan

log = logging.getLogger("corebound")


class Context:
    """The worker's settings, set once by `register` before the children fork, and a flag
    in shared memory a child raises when the model does not load (the exit code says so)."""

    settings: Settings | None = None
    model_failed: Any = None  # a multiprocessing RawValue("b")

    @classmethod
    def current(cls) -> Settings:
        assert cls.settings is not None, "service.jobs.task.register() was not called"
        return cls.settings


class JobRequest(Request):
    """Celery's request, plus our record of a hard time limit (in the main process)."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        if not soft:
            message = f"the job ran longer than JOB_TIME_LIMIT_S ({timeout:g} s) and was stopped"
            store_for(Context.current()).try_finish(self.id, "failed", message)


class JobTask(Task):
    Request = JobRequest

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        # After Celery stored the result: a GET never sees succeeded without it.
        store_for(Context.current()).try_finish(task_id, "succeeded")

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        message = str(exc) if isinstance(exc, JobFailed) else f"{type(exc).__name__}: {exc}"
        store_for(Context.current()).try_finish(task_id, "failed", message)


def run_job(
    task: Task, kind: str, body: str, model_name: str, model_version: str | None = None
) -> dict[str, Any]:
    from service.jobs import execute  # numpy and the model: children only

    settings = Context.current()
    job_id = task.request.id
    if execute.Loaded.model is None:  # this child is stopping (its model did not load)
        raise Reject("no model loaded in this process", requeue=True)
    try:
        runs = store_for(settings).start(job_id)
    except redis.RedisError as exc:
        # Back to the queue at once: the record must count this run before it starts.
        raise Reject(f"job record unavailable: {exc}", requeue=True) from None
    if runs in (ALREADY_FINISHED, NO_RECORD):
        why = "already finished" if runs == ALREADY_FINISHED else "has no record (expired)"
        log.info("job %s %s: delivered again, nothing to do", job_id, why)
        raise Ignore()
    if runs > settings.job_max_runs:
        raise JobFailed(
            f"worker lost {runs - 1} times running it (JOB_MAX_RUNS={settings.job_max_runs})"
        )
    return execute.run(kind, body, model_name, model_version, job_id, settings.job_max_rows)


def load_model_in_child(**_: Any) -> None:
    """worker_process_init: each child maps the model once, as a gunicorn worker does.

    A model that does not load stops the whole worker (exit 1, as gunicorn's boot error):
    Celery only logs a failed init, and a child without a model would take jobs.
    """
    from service.jobs import execute

    settings = Context.current()
    try:
        model = execute.load(settings, inherited_plan(settings))
    except Exception as exc:
        log.critical("job worker stopping: the model does not load: %s", exc, exc_info=True)
        Context.model_failed.value = 1
        os.kill(os.getppid(), signal.SIGQUIT)  # Celery's cold shutdown
        os._exit(1)
    log.info("job child: model %s %s loaded", model.name, model.version)


def model_failed() -> bool:
    """A child found the model would not load (the worker then stopped)."""
    return bool(Context.model_failed is not None and Context.model_failed.value)


def register(app: Celery, settings: Settings) -> None:
    Context.settings = settings
    Context.model_failed = multiprocessing.RawValue("b", 0)
    app.task(
        run_job,
        name=TASK_NAME,
        bind=True,
        base=JobTask,
        throws=(JobFailed,),  # an expected failure: logged without a traceback
        typing=False,
    )
    worker_process_init.connect(load_model_in_child, weak=False)
