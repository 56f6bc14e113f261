"""Locust user for corebound: the served model's inputs, every answer checked, SLO sets exit code.

At start it learns the model from the server (loadtests/startup.py) and takes its rows from
SAMPLES_FILE, the embedded model's held-out digits, or the metadata.

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
import os
import random
import sys
from pathlib import Path
from typing import Any, ClassVar

from locust import FastHttpUser, HttpUser, between, events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests import slo, startup, wire
from loadtests.answers import Outcome, naming_the_answer
from loadtests.samples import Batch
from loadtests.settings import Slo, Target, Traffic

TRAFFIC = Traffic.from_env()
SLO = Slo.from_env()
TARGET = Target.from_env()
# Rows the model labelled differently from the samples' labels: accuracy, not failure.
LABEL_TALLY = {"rows": 0, "wrong": 0}
# Answers slower than this are failures too; it also bounds a run against a stuck server.
REQUEST_TIMEOUT_S = 30


# FastHttpUser sends several times the requests per core HttpUser does
# (reports/locust_clients.json), so a saturated client does not pass for a slow server.
CLIENT_CLASS = {"fast": FastHttpUser, "http": HttpUser}[TRAFFIC.client]
# HttpUser takes its timeout per request; FastHttpUser as class attributes (below).
TIMEOUT = {"timeout": REQUEST_TIMEOUT_S} if TRAFFIC.client == "http" else {}


class ModelUser(CLIENT_CLASS):  # type: ignore[valid-type,misc]
    # Think time between requests; load is set by the shape's user count.
    wait_time = between(0.05, 0.15)
    network_timeout = connection_timeout = REQUEST_TIMEOUT_S
    # Set by learn_the_model before any user starts.
    plan: ClassVar[startup.Plan]

    def on_start(self) -> None:
        # Each user walks the rows from its own offset so batches differ.
        self.cursor = itertools.count(random.randrange(len(self.plan.samples)) * TRAFFIC.rows)
        self.sent = 0

    def _batch(self) -> Batch:
        return self.plan.samples.batch(next(self.cursor), TRAFFIC.rows)

    # The weights here are the settings'; learn_the_model drops v1 for a model it cannot serve.
    @task(TRAFFIC.weight_v1)
    def v1_predict(self) -> None:
        batch = self._batch()
        body = wire.v1_body(self.plan.model, batch)
        self._post(wire.V1_PATH, body, batch, self.plan.checker.v1)

    @task(TRAFFIC.weight_v2)
    def v2_infer(self) -> None:
        batch = self._batch()
        body = wire.v2_body(self.plan.model, batch)
        self._post(wire.v2_path(self.plan.model), body, batch, self.plan.checker.v2)

    @task(TRAFFIC.weight_v2_binary)
    def v2_infer_binary(self) -> None:
        batch = self._batch()
        body, headers = wire.v2_binary_body(self.plan.model, batch)
        path = wire.v2_path(self.plan.model)
        with self.client.post(
            path,
            data=body,
            headers={**headers, **self._recycle()},
            name=path + " (binary)",  # same path, its own row in the report
            catch_response=True,
            **TIMEOUT,
        ) as response:
            length = response.headers.get(wire.HEADER_LENGTH)
            outcome = self.plan.checker.v2_binary(
                response.status_code, response.content or b"", length, batch
            )
            self._record(response, outcome, batch)

    def _post(self, path: str, body: dict[str, Any], batch: Batch, check: Any) -> None:
        with self.client.post(
            path,
            json=body,
            headers=self._recycle(),
            catch_response=True,
            **TIMEOUT,
        ) as response:
            try:
                # json.loads on the bytes: FastResponse.json() would guess the encoding first.
                payload = json.loads(response.content) if response.status_code == 200 else None
            except ValueError:
                response.failure("malformed: body is not JSON")
                return
            self._record(response, check(response.status_code, payload, batch), batch)

    def _recycle(self) -> dict[str, str]:
        """Every recycle_every-th request of this user asks the server to close the connection.

        The next request opens a new one, which the Service may send to a pod the HPA just
        added (ClusterIP balances per connection, not per request).
        """
        self.sent += 1
        recycle = TRAFFIC.recycle_every and self.sent % TRAFFIC.recycle_every == 0
        return {"Connection": "close"} if recycle else {}

    def _record(self, response: Any, outcome: Outcome, batch: Batch) -> None:
        if outcome.error:
            response.failure(naming_the_answer(outcome.error, response.content or b""))
            return
        if batch.labels is not None:
            LABEL_TALLY["rows"] += batch.rows
            LABEL_TALLY["wrong"] += outcome.wrong
        response.success()


@events.init.add_listener
def learn_the_model(environment: Environment, **_: Any) -> None:
    """Learn the served model before any user starts; a run that cannot start says why."""
    try:
        plan = startup.start(environment.host, TRAFFIC, TARGET)
    except startup.StartError as error:
        # SystemExit passes through Locust's event hook: one line and exit code 1, no traceback.
        sys.exit(f"loadtest: {error}")
    tasks = {
        "v1": ModelUser.v1_predict,
        "v2": ModelUser.v2_infer,
        "v2_binary": ModelUser.v2_infer_binary,
    }
    ModelUser.plan = plan
    ModelUser.tasks = [tasks[name] for name, weight in plan.weights.items() for _ in range(weight)]
    print(plan.line, flush=True)


@events.report_to_master.add_listener
def send_label_tally(data: dict[str, Any], **_: Any) -> None:
    """A worker's label counts since its last report ride along with its stats."""
    data["label_tally"] = dict(LABEL_TALLY)
    LABEL_TALLY.update(rows=0, wrong=0)


@events.worker_report.add_listener
def add_label_tally(data: dict[str, Any], **_: Any) -> None:
    """The master adds up its workers' label counts, as Locust does their stats."""
    for key, count in (data.get("label_tally") or {}).items():
        LABEL_TALLY[key] += count


@events.quitting.add_listener
def check_slo(environment: Environment, **_: Any) -> None:
    """Set Locust's exit code from the SLO so a Job's success means the SLO held."""
    if isinstance(environment.runner, WorkerRunner):
        # The master judges the aggregated stats; a worker that ran to the end succeeded.
        environment.process_exit_code = 0
        return
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
    line = json.dumps(summary, sort_keys=True)
    atexit.register(_print_last, line)
    # The same summary as a file for the master's publisher (loadtests/publish.py), which
    # keeps it in a ConfigMap: read back without searching a log.
    if summary_file := os.environ.get("SUMMARY_FILE", "").strip():
        Path(summary_file).write_text(line + "\n")
    environment.process_exit_code = verdict.exit_code


def _print_last(line: str) -> None:
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
