"""Locust user for corebound: real held-out digits, every answer checked, SLO sets exit code.

Run (from the repo root, or /app in the loadtest image):
    LOCUST_HOST=http://127.0.0.1:8000 locust -f loadtests/locustfile.py,loadtests/shapes/step.py \
        --headless --csv /tmp/locust --html /tmp/locust.html
Settings are env vars (loadtests/README.md); the verdict is one `SLO PASS|FAIL` line.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import json
import random
import sys
from typing import Any

from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests import answers, holdout, slo
from loadtests.settings import Slo, Traffic

TRAFFIC = Traffic.from_env()
SLO = Slo.from_env()
DIGITS = holdout.load()
# Rows the model labelled differently from the held-out truth: accuracy, not failure.
LABEL_TALLY = {"rows": 0, "wrong": 0}
# Answers slower than this are failures too; it also bounds a run against a stuck server.
REQUEST_TIMEOUT_S = 30


class DigitsUser(HttpUser):
    # Think time between requests; load is set by the shape's user count.
    wait_time = between(0.05, 0.15)

    def on_start(self) -> None:
        # Each user walks the held-out set from its own offset so batches differ.
        self.cursor = itertools.count(random.randrange(len(DIGITS.inputs)) * TRAFFIC.rows)
        self.sent = 0

    @task(TRAFFIC.weight_v1)
    def v1_predict(self) -> None:
        inputs, expected = DIGITS.batch(next(self.cursor), TRAFFIC.rows)
        self._post(answers.V1_PATH, answers.v1_body(inputs), expected, answers.check_v1)

    @task(TRAFFIC.weight_v2)
    def v2_infer(self) -> None:
        inputs, expected = DIGITS.batch(next(self.cursor), TRAFFIC.rows)
        self._post(answers.V2_PATH, answers.v2_body(inputs), expected, answers.check_v2)

    @task(TRAFFIC.weight_v2_binary)
    def v2_infer_binary(self) -> None:
        inputs, expected = DIGITS.batch(next(self.cursor), TRAFFIC.rows)
        body, headers = answers.v2_binary_body(inputs)
        with self.client.post(
            answers.V2_PATH,
            data=body,
            headers={**headers, **self._recycle()},
            name=answers.V2_BINARY_NAME,
            catch_response=True,
            timeout=REQUEST_TIMEOUT_S,
        ) as response:
            length = response.headers.get(answers.HEADER_LENGTH)
            outcome = answers.check_v2_binary(
                response.status_code, response.content or b"", length, expected
            )
            self._record(response, outcome, expected)

    def _post(self, path: str, body: dict[str, Any], expected: list[str], check: Any) -> None:
        with self.client.post(
            path,
            json=body,
            headers=self._recycle(),
            catch_response=True,
            timeout=REQUEST_TIMEOUT_S,
        ) as response:
            try:
                payload = response.json() if response.status_code == 200 else None
            except ValueError:
                response.failure("malformed: body is not JSON")
                return
            self._record(response, check(response.status_code, payload, expected), expected)

    def _recycle(self) -> dict[str, str]:
        """Every recycle_every-th request of this user asks the server to close the connection.

        The next request opens a new one, which the Service may send to a pod the HPA just
        added (ClusterIP balances per connection, not per request).
        """
        self.sent += 1
        recycle = TRAFFIC.recycle_every and self.sent % TRAFFIC.recycle_every == 0
        return {"Connection": "close"} if recycle else {}

    def _record(self, response: Any, outcome: answers.Outcome, expected: list[str]) -> None:
        if outcome.error:
            response.failure(outcome.error)
            return
        LABEL_TALLY["rows"] += len(expected)
        LABEL_TALLY["wrong"] += outcome.wrong
        response.success()


@events.quitting.add_listener
def check_slo(environment: Environment, **_: Any) -> None:
    """Set Locust's exit code from the SLO so a Job's success means the SLO held."""
    if isinstance(environment.runner, WorkerRunner):
        return  # the master judges the aggregated stats
    total = environment.stats.total
    totals = slo.Totals(
        requests=total.num_requests,
        failures=total.num_failures,
        p95_ms=total.get_response_time_percentile(0.95) or 0,
        p99_ms=total.get_response_time_percentile(0.99) or 0,
        rps=total.total_rps,
        wrong_labels=LABEL_TALLY["wrong"],
        rows=LABEL_TALLY["rows"],
    )
    verdict = slo.evaluate(totals, SLO)
    print(verdict.line, flush=True)  # one plain line a Job log or a CI grep can find
    # The last log line: a JSON summary that outlives the pod's emptyDir reports. Printed at
    # interpreter exit, after Locust's own shutdown lines, and on their stream (stderr): a
    # pod's log interleaves stdout and stderr in whatever order the runtime read the pipes.
    summary = {"slo": "PASS" if verdict.passed else "FAIL", **dataclasses.asdict(totals)}
    atexit.register(_print_last, json.dumps(summary, sort_keys=True))
    environment.process_exit_code = verdict.exit_code


def _print_last(line: str) -> None:
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
