"""The job worker's liveness: its main process touches a file from Celery's own event loop.

A timer on the worker's hub, not a thread: the file goes stale when the loop that takes
messages and watches the children stops turning, which is what a liveness probe is for.
`python -m service.jobs.probe` reads its age.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import bootsteps

INTERVAL_S = 5.0  # the probe allows 60 s: twelve missed beats


def touch(path: Path) -> None:
    path.touch(exist_ok=True)
    os.utime(path)


def heartbeat_step(path: Path) -> type[bootsteps.StartStopStep]:
    """A worker bootstep touching `path` every INTERVAL_S on the worker's timer."""

    class Heartbeat(bootsteps.StartStopStep):
        requires = ("celery.worker.components:Timer",)

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None

        def start(self, worker: Any) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            touch(path)
            self.tref = worker.timer.call_repeatedly(INTERVAL_S, touch, (path,), priority=10)

        def stop(self, worker: Any) -> None:
            # The file stays: a warm shutdown finishing its jobs is still alive.
            if self.tref is not None:
                self.tref.cancel()

    return Heartbeat
