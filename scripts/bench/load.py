"""One cell of load: wrk against a pattern, the /healthz prober beside it; the model alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from scripts.bench.patterns import Pattern, Server
from scripts.local.proc import group_cpu_seconds
from scripts.local.service import REPO
from service.inference.model import load_artifact
from service.settings import DEFAULT_MODEL_DIR

HOLDOUT = REPO / "loadtests" / "data" / "digits_holdout.json"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Row:
    pattern: str
    label: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    healthz_p50_ms: float
    healthz_p99_ms: float
    healthz_failures: int
    healthz_probes: int
    server_cores: float  # CPU the pattern's processes used, in cores
    client_cores: float  # wrk's own CPU: it shares the machine with the server
    load_average: float
    rps_rounds: list[float] = field(default_factory=list)  # every round's req/s, in run order
    # corebound only: cumulative `corebound_batch_rows` buckets gained during the cell
    batch_rows: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def run_load(
    server: Server, pattern: Pattern, lua: Path, concurrency: int, seconds: int, threads: int
) -> Row:
    url = server.url
    cmd = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency)]
    cmd += ["-d", f"{seconds}s", "--timeout", "10s", "--latency", "-s", str(lua), url]
    # Probes stop a little before wrk does, so every probe sees the full load.
    probe_seconds = max(0.5, seconds - 0.5)
    prober = subprocess.Popen(
        [sys.executable, "-m", "scripts.bench.prober", url, str(probe_seconds)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdin is not None and prober.stdout is not None
    prober.stdout.readline()  # "ready"
    cpu_before, wall_before = group_cpu_seconds(server.pgid), time.monotonic()
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    prober.stdin.write("go\n")
    prober.stdin.flush()
    assert wrk.stdout is not None
    output = wrk.stdout.read().decode()
    _, _, usage = os.wait4(wrk.pid, 0)
    wrk.returncode = 0  # reaped above
    cpu = group_cpu_seconds(server.pgid) - cpu_before
    wall = time.monotonic() - wall_before
    probe_out, _ = prober.communicate(timeout=seconds + 30)
    match = re.search(r"^BENCH (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    w = json.loads(match.group(1))
    probes = json.loads(probe_out)
    health = probes["latencies_ms"]
    # wrk counts 4xx/5xx answers as "status" errors; the rest are socket errors.
    return Row(
        pattern=pattern.name,
        label=pattern.label,
        concurrency=concurrency,
        rps=w["requests"] / (w["duration_us"] / 1e6),
        p50_ms=w["p50_us"] / 1000,
        p99_ms=w["p99_us"] / 1000,
        max_ms=w["max_us"] / 1000,
        requests=w["requests"],
        non_2xx=w["status"],
        socket_errors=w["connect"] + w["read"] + w["write"] + w["timeout"],
        healthz_p50_ms=percentile(health, 50),
        healthz_p99_ms=percentile(health, 99),
        healthz_failures=probes["failures"],
        healthz_probes=len(health),
        server_cores=cpu / wall,
        client_cores=(usage.ru_utime + usage.ru_stime) / wall,
        load_average=os.getloadavg()[0],
    )


def holdout_rows() -> np.ndarray:
    return np.asarray(json.loads(HOLDOUT.read_text())["inputs"], np.float32)


RUNTIMES = ("onnxruntime", "numpy")  # what corebound serves with first (MODEL_RUNTIME)
BATCHES = (1, 2, 4, 8, 16, 32)


def compute_limit(
    seconds: float = 1.0, model_dir: Path = DEFAULT_MODEL_DIR, inputs: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Rows/s of `predict` in this process by batch, with 1 and 2 threads, on each runtime."""
    inputs = holdout_rows() if inputs is None else inputs
    out = []
    for runtime in RUNTIMES:
        for threads in (1, 2):
            model = load_artifact(model_dir, runtime=runtime, threads=threads)
            with threadpool_limits(limits=threads):
                for batch in BATCHES:
                    rows = np.resize(inputs, (batch, inputs.shape[1]))
                    for _ in range(20):  # page the weights in, start the threads
                        model.predictor.predict(rows)
                    calls, started = 0, time.perf_counter()
                    while time.perf_counter() - started < seconds:
                        model.predictor.predict(rows)
                        calls += 1
                    elapsed = time.perf_counter() - started
                    out.append(
                        {
                            "runtime": runtime,
                            "blas_threads": threads,
                            "batch": batch,
                            "ms_per_call": elapsed / calls * 1000,
                            "rows_per_s": calls * batch / elapsed,
                        }
                    )
    return out
