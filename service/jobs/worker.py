"""The job worker: `python -m service.jobs.worker`, sized from the cgroup like gunicorn.

As service/gunicorn_conf.py does for the API: the plan once, in the main process, before
any child exists (one process per whole core, WEB_CONCURRENCY wins; the job body in the
memory plan, one job per process), BLAS thread counts in the environment before any child
loads numpy, a model.onnx prepared once for all children, the plan logged as one JSON line
(`"role": "jobs"`). Then Celery's prefork worker; each child maps the model at start. SIGTERM
is Celery's warm shutdown: running jobs finish, nothing new is taken.
"""

from __future__ import annotations

import json
import os
import sys

from service.inference.preparation import prepare_workers
from service.jobs import task
from service.jobs.celery_app import create_celery
from service.jobs.heartbeat import heartbeat_step
from service.settings import Settings, load_settings
from service.sizing.formula import Plan


def worker_argv(settings: Settings, plan: Plan) -> list[str]:
    """Celery's worker command line: docs/CONTRACT.md "Jobs"."""
    return [
        "worker",
        "--pool=prefork",
        f"--concurrency={plan.workers}",
        "-Q",
        settings.job_queue,
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--loglevel={settings.log_level.upper()}",
        f"--hostname=corebound-jobs-{os.getpid()}@%h",  # two workers may share a host
    ]


def prepare(settings: Settings) -> Plan:
    """The plan, the environment every child inherits, the shared ONNX weights; SystemExit
    naming the problem when this worker cannot start."""
    if settings.redis_url is None:
        raise SystemExit(
            "corebound: the job worker needs REDIS_URL (redis://[:password@]host:port/db)"
        )
    return prepare_workers(settings, role="jobs")


def main() -> None:
    settings = load_settings()
    plan = prepare(settings)
    line = {"event": "plan", "role": "jobs", **plan.as_dict(), "queue": settings.job_queue}
    print(json.dumps(line), file=sys.stderr, flush=True)
    if plan.note:
        print(f"corebound: {plan.note}", file=sys.stderr, flush=True)
    app = create_celery(settings)
    task.register(app, settings)
    app.steps["consumer"].add(heartbeat_step(settings.job_heartbeat_file))
    code = app.start(worker_argv(settings, plan))  # worker_main() drops the exit code
    if task.model_failed():
        raise SystemExit("corebound: the job worker stopped: the model does not load (above)")
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
