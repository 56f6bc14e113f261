"""Run the job API locally: Redis, the job worker and the service, until Ctrl-C or SIGTERM.

python -m scripts.local jobs [--cpus 2 --memory-mib 600] [--worker-cpus 1 --worker-memory-mib 600]
                             [--env JOB_MAX_ROWS=1024 ...]

Redis (Debian's redis-server) listens on loopback with a fresh password and its AOF in a temp
dir; the job worker and gunicorn get JOBS_ENABLED=true and its REDIS_URL. --cpus/--memory-mib
put the service in a throw-away cgroup as `serve` does, --worker-cpus/--worker-memory-mib the
worker in its own, as the chart runs them in separate pods.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from scripts.local.cgroup import Cgroup
from scripts.local.job_worker import JobWorker, run_job_worker
from scripts.local.redis_server import RedisServer, run_redis
from scripts.local.service import Service, run_service

# A warm shutdown lets running jobs finish: give them longer than gunicorn's drain.
WORKER_STOP_S = 120


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local jobs", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--cpus", type=float, help="the service's CFS quota in cores (root)")
    parser.add_argument("--memory-mib", type=int, help="the service's memory limit (root)")
    parser.add_argument("--worker-cpus", type=float, help="the job worker's CFS quota (root)")
    parser.add_argument("--worker-memory-mib", type=int, help="the worker's memory limit (root)")
    parser.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                        help="for the service and the worker alike")  # fmt: skip
    args = parser.parse_args(argv)
    if bad := [item for item in args.env if "=" not in item]:
        parser.error(f"--env takes VAR=VALUE, got {bad}")
    limits = (args.cpus, args.memory_mib, args.worker_cpus, args.worker_memory_mib)
    if any(limits) and (reason := Cgroup.unavailable_reason()):
        parser.error(f"--cpus/--memory-mib/--worker-* need a cgroup: {reason}")
    done = threading.Event()
    # SIGHUP too: the terminal closing must not leave the three running in their sessions.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    try:
        return run(args, done)
    except KeyboardInterrupt:  # a second Ctrl-C while stopping: stop() killed what it waited on
        return 130


def run(args: argparse.Namespace, done: threading.Event) -> int:
    # Stopped in reverse: gunicorn takes no more jobs, the worker finishes its running ones
    # (warm shutdown) while Redis is still there to record them, then Redis shuts down.
    with contextlib.ExitStack() as stack:
        try:
            heartbeat = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="corebound-")))
            redis = stack.enter_context(run_redis())
            env = {
                # Its own liveness file: the default one is shared by every worker on the host.
                "JOB_HEARTBEAT_FILE": str(heartbeat / "jobs-heartbeat"),
                **dict(item.split("=", 1) for item in args.env),
                "JOBS_ENABLED": "true",
                "REDIS_URL": redis.url,
            }
            worker = stack.enter_context(
                run_job_worker(
                    env, args.worker_cpus, args.worker_memory_mib, stop_timeout_s=WORKER_STOP_S
                )
            )
            svc = stack.enter_context(run_service(env, args.cpus, args.memory_mib))
            print(banner(svc, worker, redis), flush=True)
            return watch(done, {"redis": redis, "job worker": worker, "gunicorn": svc})
        except KeyboardInterrupt:
            print("stopping (a second Ctrl-C kills)", file=sys.stderr, flush=True)
            return 130


def watch(done: threading.Event, parts: dict[str, RedisServer | JobWorker | Service]) -> int:
    """Until SIGTERM (0), or one of the three exits by itself (1: the others are stopped)."""
    while not done.wait(1.0):
        for name, part in parts.items():
            process: subprocess.Popen[bytes] = part.process
            if process.poll() is not None:
                print(f"{name} exited {process.returncode} (log {part.log_path}); stopping",
                      file=sys.stderr, flush=True)  # fmt: skip
                return 1
    return 0


def banner(svc: Service, worker: JobWorker, redis: RedisServer) -> str:
    plan = worker.plan() or {}
    lines = [
        f"job API on {svc.url} (POST /v1/jobs, GET /v1/jobs/<id>); Ctrl-C stops it",
        f"  gunicorn pid {svc.process.pid}, log {svc.log_path}",
        f"  job worker pid {worker.process.pid} (plan: workers={plan.get('workers')},"
        f" threads={plan.get('threads')}), log {worker.log_path}",
        f"  redis pid {redis.process.pid} on 127.0.0.1:{redis.port}, password in {redis.config},"
        f" log {redis.log_path}",
    ]  # fmt: skip
    return "\n".join([*lines, *curl_example(svc.url)])


def curl_example(url: str) -> list[str]:
    """Ready-to-paste shell lines: submit one row of zeros, then GET the Location answered."""
    with urllib.request.urlopen(url + "/info", timeout=10) as response:
        model = json.load(response)["model"]
    if model["input_dim"] is None:  # not rows of one width: /v1 refuses it, /v2 takes it
        return [f"Submit jobs to {url}/v2/models/{model['name']}/jobs (an inference request)"]
    body = json.dumps({"inputs": [[0] * model["input_dim"]]}, separators=(",", ":"))
    return [
        "Submit a job, then read it back (its status, and its result once it succeeded):",
        f"  loc=$(curl -sS -o /dev/null -D - -H 'content-type: application/json' -d '{body}'"
        f" {url}/v1/jobs | tr -d '\\r' | awk 'tolower($1) == \"location:\" {{print $2}}')",
        f'  sleep 1; curl -sS "{url}$loc"; echo',
    ]
