"""The /healthz prober: its own interpreter, so its timing does not share the benchmark's GIL.

python -m scripts.bench.prober URL SECONDS   (started by scripts.bench.load, not by hand)
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def probe_once(url: str, timeout_s: float) -> tuple[int, float]:
    """GET /healthz on a fresh connection (as kubelet probes do); status and seconds."""
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def probe_main(url: str, seconds: float, interval_s: float) -> None:
    """The prober process: its own interpreter, so its timing does not share our GIL.

    Says "ready" once started and probes on "go", so its own start-up (an interpreter and
    imports) is not paid inside the measured seconds.
    """
    print("ready", flush=True)
    sys.stdin.readline()
    latencies: list[float] = []
    failures = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            status, elapsed = probe_once(url, 5.0)
            failures += status != 200
        except OSError:
            failures += 1
            elapsed = time.perf_counter() - started
        latencies.append(elapsed * 1000)
        time.sleep(max(0.0, interval_s - (time.perf_counter() - started)))
    print(json.dumps({"latencies_ms": latencies, "failures": failures}))


if __name__ == "__main__":
    probe_main(sys.argv[1], float(sys.argv[2]), 0.02)
