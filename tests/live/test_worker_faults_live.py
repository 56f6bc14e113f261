"""One worker of a two-worker pod lost or hung, under the real gunicorn (issue 22, fault 6).

SIGKILLed: gunicorn's master respawns it; every /healthz answer stays 200, only a request
in flight on it may fail, and the new worker loads, warms up and reports to the health
board. Hung (its inference thread blocked forever by tests/cluster/hang_model.py): once its
call is older than MAX_CALL_S (plus at most one report interval for its sibling to read it)
every /healthz and /readyz answer is 503 naming it, whichever worker answers, so the
kubelet's liveness probe fails every time and restarts the pod.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from serving import Service, holdout, run_service

from service.inference.health_board import REPORT_INTERVAL_S

MAX_CALL_S = 3.0
ENV = {
    "MODEL_CLASS": "tests.cluster.hang_model:load",
    "WEB_CONCURRENCY": "2",
    "MAX_CALL_S": f"{MAX_CALL_S:g}",
    "REQUEST_TIMEOUT_S": "5",
    "GRACEFUL_TIMEOUT": "5",  # the hung worker never drains: the test's end waits this long
}
HANG_ROW = [1e6] + [0.0] * 63  # hang_model.HANG first: that call never returns


def probe(url: str, path: str = "/healthz") -> tuple[int, dict[str, Any]]:
    """GET on a fresh connection, as the kubelet probes."""
    response = httpx.get(url + path, timeout=5)
    return response.status_code, response.json()


def burst(url: str, path: str, connections: int = 8) -> list[tuple[int, dict[str, Any]]]:
    """`connections` opened at once, then one GET on each: the workers share them out."""
    host, port = url.removeprefix("http://").split(":")
    conns = [http.client.HTTPConnection(host, int(port), timeout=5) for _ in range(connections)]
    try:
        for conn in conns:
            conn.connect()
        answers = []
        for conn in conns:
            conn.request("GET", path)
            response = conn.getresponse()
            answers.append((response.status, json.loads(response.read())))
        return answers
    finally:
        for conn in conns:
            conn.close()


def reported_workers(svc: Service, count: int, timeout_s: float = 60) -> list[int]:
    """Poll /healthz until `count` workers are on the health board; their pids."""
    deadline = time.monotonic() + timeout_s
    while True:
        workers = probe(svc.url)[1]["workers"]
        if len(workers) == count or time.monotonic() > deadline:
            return sorted(workers)
        time.sleep(0.1)


@contextlib.contextmanager
def predicting(url: str) -> Iterator[dict[str, int]]:
    """One client predicting in a loop, a fresh connection each: at most one request in
    flight at any moment. Yields its counts ("ok", "failed")."""
    counts = {"ok": 0, "failed": 0}
    stop = threading.Event()
    row = holdout()[0][0]

    def run() -> None:
        while not stop.is_set():
            try:
                ok = httpx.post(url + "/v1/predict", json={"inputs": [row]}, timeout=10).is_success
            except httpx.HTTPError:
                ok = False
            counts["ok" if ok else "failed"] += 1

    client = threading.Thread(target=run)
    client.start()
    try:
        yield counts
    finally:
        stop.set()
        client.join()


def test_a_sigkilled_worker_is_replaced_and_the_pod_stays_live() -> None:
    with run_service(ENV, wait_workers=2) as svc:
        before = reported_workers(svc, 2)
        victim = before[0]
        codes = []
        back_s = None  # from the kill until a new worker is on the board: loaded, warmed up
        with predicting(svc.url) as counts:
            for i in range(50):
                if i == 5:
                    os.kill(victim, signal.SIGKILL)
                    killed = time.monotonic()
                code, body = probe(svc.url)
                codes.append(code)
                if i >= 5 and back_s is None and set(body["workers"]) - set(before):
                    back_s = time.monotonic() - killed
                time.sleep(0.1)
            after = reported_workers(svc, 2)
            back_s = back_s or time.monotonic() - killed
        metrics = httpx.get(svc.url + "/metrics", timeout=5)
        respawned = [p for p in after if p not in before]

    print(
        f"\nSIGKILL worker {victim}: /healthz {codes.count(200)}/{len(codes)} answers 200;"
        f" replacement {respawned} reported healthy {back_s:.1f} s after the kill;"
        f" predictions meanwhile: {counts['ok']} ok, {counts['failed']} failed"
    )
    assert codes == [200] * 50
    assert len(respawned) == 1 and victim not in after  # the dead one's report went with it
    assert counts["failed"] <= 1 and counts["ok"] > 0  # only the one in flight on it may fail
    assert metrics.status_code == 200 and b"corebound" in metrics.content


def test_a_hung_inference_thread_fails_every_probe_of_the_pod() -> None:
    with run_service(ENV, wait_workers=2) as svc:
        workers = reported_workers(svc, 2)
        hung_answer: list[int] = []
        hang = threading.Thread(
            target=lambda: hung_answer.append(
                httpx.post(
                    svc.url + "/v1/predict", json={"inputs": [HANG_ROW]}, timeout=30
                ).status_code
            )
        )
        sent = time.monotonic()
        hang.start()
        before: list[int] = []  # /healthz codes until the first 503
        while time.monotonic() - sent < MAX_CALL_S + 10:
            code, first = probe(svc.url)
            if code == 503:
                break
            before.append(code)
            time.sleep(0.1)
        detected_s = time.monotonic() - sent
        # The sibling judges the hung worker by its last report (at most REPORT_INTERVAL_S
        # old, its call's age as of then): every answer is 503 from MAX_CALL_S + that on.
        time.sleep(max(0.0, sent + MAX_CALL_S + REPORT_INTERVAL_S + 0.5 - time.monotonic()))
        # Bursts until 20 answers or more came from both workers: the hung one and its sibling.
        health: list[tuple[int, dict[str, Any]]] = []
        for _ in range(20):
            health += burst(svc.url, "/healthz")
            if len(health) >= 20 and {b["pid"] for _, b in health} == set(workers):
                break
        ready = burst(svc.url, "/readyz")
        hang.join()

    answered = sorted({b["pid"] for _, b in health})
    stalled = {(s["pid"], s["reason"].split(" for ")[0]) for _, b in health for s in b["stalled"]}
    print(
        f"\nhang sent to one of {workers}: first 503 {detected_s:.1f} s later (MAX_CALL_S="
        f"{MAX_CALL_S:g}; {len(before)} answers 200 before); then /healthz"
        f" {sum(c == 503 for c, _ in health)}/{len(health)} answers 503 from workers {answered},"
        f" /readyz {sum(c == 503 for c, _ in ready)}/{len(ready)} 503; stalled: {first['stalled']};"
        f" the hung request answered {hung_answer}"
    )
    assert code == 503 and detected_s >= MAX_CALL_S and set(before) <= {200}
    assert [c for c, _ in health] == [503] * len(health) and len(health) >= 20
    assert answered == workers  # the sibling answers 503 as well as the hung worker
    assert len(stalled) == 1 and next(iter(stalled))[1] == "one model call running"
    assert [c for c, _ in ready] == [503] * len(ready)
    assert hung_answer == [504]  # its deadline (REQUEST_TIMEOUT_S) answered it
