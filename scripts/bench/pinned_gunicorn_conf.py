"""The service's gunicorn configuration with each worker pinned to one core of the mask.

    gunicorn --config service/gunicorn_conf.py --config python:scripts.bench.pinned_gunicorn_conf

Only `python -m scripts.bench pinning` starts it (the last --config wins): the variant the
service would run if pinning measured better. The master picks, before each fork, the first
core of its own affinity mask that no live worker holds (a restarted worker gets the core its
predecessor freed); the child applies it before it starts a thread, so its event loop, its
inference thread and ONNX Runtime's threads all inherit the one core.
"""

from __future__ import annotations

import os
from typing import Any

from service import gunicorn_conf as _service
from service.gunicorn_conf import *  # noqa: F403 - everything the service configures


def _free_core(server: Any) -> int:
    held = {getattr(w, "pinned_core", None) for w in server.WORKERS.values()}
    mask = sorted(os.sched_getaffinity(0))
    return next((core for core in mask if core not in held), mask[0])


def pre_fork(server: Any, worker: Any) -> None:
    worker.pinned_core = _free_core(server)
    if hasattr(_service, "pre_fork"):
        _service.pre_fork(server, worker)


def post_fork(server: Any, worker: Any) -> None:
    os.sched_setaffinity(0, {worker.pinned_core})
    if hasattr(_service, "post_fork"):
        _service.post_fork(server, worker)
