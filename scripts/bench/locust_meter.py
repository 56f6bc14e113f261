"""A Locust add-on file for bench locust-clients: the run's request count over time.

Given as one more `-f` file beside loadtests/locustfile.py and a shape, it writes one JSON line
`[unix time, requests, failures]` every METER_INTERVAL_S to METER_FILE. Locust's stats history
stamps whole seconds only; the bench matches these exact times against the CPU it samples
from /proc, so a window of the steady state needs no start-up or shutdown CPU subtracted.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust import events
from locust.env import Environment

METER_FILE = os.environ.get("METER_FILE", "")
INTERVAL_S = float(os.environ.get("METER_INTERVAL_S", "0.5"))


def _meter(environment: Environment) -> None:
    with open(METER_FILE, "a") as out:
        while True:
            total = environment.stats.total
            out.write(json.dumps([time.time(), total.num_requests, total.num_failures]) + "\n")
            out.flush()
            gevent.sleep(INTERVAL_S)


@events.init.add_listener
def _start(environment: Environment, **_: Any) -> None:
    if METER_FILE:
        gevent.spawn(_meter, environment)
