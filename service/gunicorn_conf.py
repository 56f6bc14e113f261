"""gunicorn configuration: the plan is computed once here, in the master, from cgroups.

    gunicorn --config service/gunicorn_conf.py [--bind HOST:PORT]

Runs before any worker exists, so what it puts in os.environ (BLAS thread counts, the
Prometheus multiprocess directory, the plan) is what every worker starts with.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

# `service` is importable as installed (scripts/setup: editable) or from PYTHONPATH=/app (image).
from service.inference.health_board import (
    HEALTH_BOARD_ENV,
    create_board,
    forget,
    remove_board,
)
from service.inference.preparation import prepare_workers
from service.settings import load_settings

settings = load_settings()
_plan = prepare_workers(settings)
# The workers share one listening socket, and libuv (uvloop) accepts every pending connection
# in one go: whichever worker wakes first took most of a burst of keep-alive connections, and
# the other batched 1-4 rows at a time (reports/benchmark.md). One accept per wake-up lets the
# other worker take its share. libuv reads this when a worker starts listening.
os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
# Multiprocess metrics must be configured before a worker imports prometheus_client.
_metrics_dir = str(
    settings.prometheus_multiproc_dir or tempfile.mkdtemp(prefix="corebound-metrics-")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

wsgi_app = "service.app:create_app()"
worker_class = "service.server.worker.CoreboundWorker"
workers = _plan.workers
bind = ["0.0.0.0:8000"]
# Heartbeat files on tmpfs: survive a read-only root filesystem and never block on disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
graceful_timeout = settings.graceful_timeout
timeout = 60  # the event loop stays free, so a silent worker really is stuck
keepalive = 5
# Read by service.server.worker: its connection cap (uvicorn's worker ignores it otherwise).
worker_connections = settings.max_connections_per_worker
# gunicornc's socket lives under $HOME: unwritable with a read-only root, and unused in a pod.
control_socket_disable = True
accesslog = None  # per-request log lines cost throughput; metrics count requests
loglevel = settings.log_level


def on_starting(server: Any) -> None:
    # Stale files from an earlier run would be summed into this one's metrics. Only ours:
    # the directory is user-settable and may hold anything else.
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
    for entry in Path(_metrics_dir).glob("*.db"):
        if entry.is_file():
            entry.unlink()
    # The workers' health board (/healthz judges every worker of the pod): made here, in the
    # master only, so importing this file makes no directory.
    create_board()
    server.log.info(json.dumps({"event": "plan", **_plan.as_dict(), "bind": server.cfg.bind}))
    if _plan.note:
        server.log.warning(_plan.note)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    # Drops the dead worker's live gauges (queue depth); its counters stay summed.
    multiprocess.mark_process_dead(worker.pid)
    # Its last health report goes too: a SIGKILLed worker, hung or not, is gunicorn's to
    # respawn, and must not fail the pod's probes while its successor loads.
    if board := os.environ.get(HEALTH_BOARD_ENV):  # unset: a config variant skipped on_starting
        forget(board, worker.pid)


def on_exit(server: Any) -> None:
    if board := os.environ.get(HEALTH_BOARD_ENV):
        remove_board(board)
