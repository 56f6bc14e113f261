"""The job worker's liveness: its main process touches a file while it makes progress.

Progress is Celery's event loop turning (a timer on it marks each turn) or the consumer
waiting for the broker: a Redis outage is not a hung worker, and a restart would only kill
the jobs its children still run. A daemon thread does the touching, so the file goes stale
exactly when the loop stops turning for another reason. Celery clears the loop's timers when
the connection drops and starts the consumer's steps again once it is back: this is one.
`python -m service.jobs.probe` reads the file's age.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from celery import bootsteps

INTERVAL_S = 5.0  # the probe allows 60 s: twelve missed beats
STALE_S = 30.0  # a loop silent this long is stuck: stop touching


def touch(path: Path) -> None:
    path.touch(exist_ok=True)
    os.utime(path)


class Beat:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.turned = time.monotonic()  # the loop's last turn
        self.waiting = True  # for the broker: at start, and between a drop and reconnecting
        self._thread: threading.Thread | None = None

    def turn(self) -> None:
        self.turned = time.monotonic()

    def alive(self) -> bool:
        return self.waiting or time.monotonic() - self.turned < STALE_S

    def start(self) -> None:
        if self._thread is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            if self.alive():
                touch(self.path)
            time.sleep(INTERVAL_S)


def heartbeat_step(path: Path) -> type[bootsteps.StartStopStep]:
    """A consumer bootstep beating for `path` (add it to app.steps["consumer"])."""
    beat = Beat(path)

    class Heartbeat(bootsteps.StartStopStep):
        requires = ("celery.worker.consumer.connection:Connection",)  # started once connected

        def __init__(self, consumer: Any, **kwargs: Any) -> None:
            super().__init__(consumer, **kwargs)
            self.tref: Any = None
            beat.start()  # before the first connection: waiting for Redis beats too

        def start(self, consumer: Any) -> None:
            beat.waiting = False
            beat.turn()
            self.tref = consumer.timer.call_repeatedly(INTERVAL_S, beat.turn, priority=10)

        def stop(self, consumer: Any) -> None:
            # Reconnecting, or a warm shutdown finishing its jobs: alive either way.
            beat.waiting = True
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None

    return Heartbeat
