"""corebound against the usual ways of serving a CPU model, side by side in one run.

    .venv/bin/python scripts/benchmark.py [--concurrency 1,8,32,64] [--duration 8]
        [--patterns corebound,threadpool,...] [--corebound-variant MAX_WAIT_MS=1] [--out reports/]

Every pattern runs under real gunicorn with UvicornWorker on the default model, one at a time
on the same machine. wrk POSTs one held-out row per request at each concurrency while a
separate prober process GETs `/healthz` every ~20 ms on a fresh connection (as a kubelet
probe does). Also measured: the model alone in this process at batch 1 and 32 (the compute
limit). Writes `benchmark.md` (tables, ratios against the targets, machine notes) and
`benchmark.json` into `--out`. It prints numbers; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
sys.path[:0] = [str(REPO), str(SCRIPTS)]

import numpy as np  # noqa: E402
from localrun import free_port, run_service  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from service.model import load_artifact  # noqa: E402
from service.resources import detect_cpu_limit  # noqa: E402
from service.settings import DEFAULT_MODEL_DIR  # noqa: E402

HOLDOUT = REPO / "loadtests" / "data" / "digits_holdout.json"
BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Variables a caller's shell could leak into a pattern and change what it measures.
INHERITED = (*BLAS_VARS, "WEB_CONCURRENCY", "COREBOUND_PLAN", "PROMETHEUS_MULTIPROC_DIR")

# Targets of issue 2, checked at these points.
TARGET_CONCURRENCY = 32
TARGET_VS_BEST_OTHER = 1.5
TARGET_VS_CEILING = 0.70
TARGET_HEALTHZ_P99_MS = 20.0


@dataclass(frozen=True)
class Pattern:
    name: str
    label: str
    app: str | None  # bench_apps factory; None = corebound itself
    workers: int
    blas_one: bool = True  # BLAS env vars = 1 per worker; False = left unset (BLAS default)
    env: dict[str, str] = field(default_factory=dict)


def patterns(cores: int) -> dict[str, Pattern]:
    return {
        p.name: p
        for p in (
            Pattern("corebound", "corebound (defaults)", None, cores),
            Pattern(
                "threadpool",
                f"`def` in threadpool, {cores} workers, BLAS 1",
                "threadpool_app",
                cores,
            ),
            Pattern(
                "threadpool-blas-default",
                f"`def` in threadpool, {cores} workers, BLAS default",
                "threadpool_app",
                cores,
                blas_one=False,
            ),
            Pattern("loop", f"`async def` on the loop, {cores} workers, BLAS 1", "loop_app", cores),
            Pattern(
                "process-pool",
                f"ProcessPoolExecutor({cores}) made at start, 1 worker",
                "process_pool_app",
                1,
                env={"BENCH_POOL_PROCESSES": str(cores)},
            ),
            Pattern("control", f"no-model control, {cores} workers", "control_app", cores),
        )
    }


def corebound_variant(spec: str, cores: int) -> Pattern:
    """`MAX_WAIT_MS=1,MAX_BATCH_SIZE=32` -> an extra, labelled corebound row."""
    env = dict(item.split("=", 1) for item in spec.split(",") if item)
    return Pattern(
        "corebound " + ",".join(f"{k}={v}" for k, v in env.items()),
        "corebound, " + ", ".join(f"{k}={v}" for k, v in env.items()),
        None,
        cores,
        env=env,
    )


# --- starting a pattern ---------------------------------------------------------------------


def base_env(pattern: Pattern) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    if pattern.blas_one and pattern.app is not None:
        # corebound sets these itself in gunicorn_conf.py from its plan.
        env.update(dict.fromkeys(BLAS_VARS, "1"))
    env.update(pattern.env)
    return env


@dataclass
class Server:
    url: str
    pgid: int


def _wait_ready(process: subprocess.Popen[bytes], log: Path, url: str, workers: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited {process.returncode}:\n{log.read_text()[-3000:]}")
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            with contextlib.suppress(OSError):
                if probe_once(url, 2.0)[0] == 200:
                    return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready in 90 s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serve(pattern: Pattern) -> Iterator[Server]:
    if pattern.app is None:
        with run_service(base_env(pattern), wait_workers=pattern.workers) as svc:
            yield Server(svc.url, svc.process.pid)
        return
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        str(pattern.workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        f"{REPO},{SCRIPTS}",
        "--keep-alive",
        "5",  # corebound's gunicorn_conf value
        f"bench_apps:{pattern.app}()",
    ]
    with tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log") as log:
        process = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=base_env(pattern),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, Path(log.name), url, pattern.workers)
            yield Server(url, process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # pool processes left behind


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the server's process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
                total += int(fields[11]) + int(fields[12])
    return total / tick


# --- load: wrk and the /healthz prober -------------------------------------------------------

LUA = """
local bodies = {%(bodies)s}
local requests = {}
local i = 0

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  for k, body in ipairs(bodies) do
    requests[k] = wrk.format("POST", "/v1/predict", headers, body)
  end
end

function request()
  i = i %% #requests + 1
  return requests[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d,'
    .. ' "status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def write_lua(directory: Path) -> Path:
    # A different held-out row per request; wrk.format'ed once, so the client stays cheap.
    inputs = json.loads(HOLDOUT.read_text())["inputs"]
    bodies = ",".join("[=[" + json.dumps({"inputs": [row]}) + "]=]" for row in inputs)
    path = directory / "predict.lua"
    path.write_text(LUA % {"bodies": bodies})
    return path


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
        [sys.executable, __file__, "--probe", url, "--probe-seconds", str(probe_seconds)],
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


# --- the model alone --------------------------------------------------------------------------


def compute_limit(seconds: float = 1.0) -> list[dict[str, Any]]:
    """Rows/s of `predict` in this process at batch 1 and 32, with 1 and 2 BLAS threads."""
    model = load_artifact(DEFAULT_MODEL_DIR)
    inputs = np.asarray(json.loads(HOLDOUT.read_text())["inputs"], np.float32)
    out = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            for batch in (1, 32):
                rows = inputs[:batch]
                for _ in range(20):  # page the weights in, start BLAS threads
                    model.predictor.predict(rows)
                calls, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds:
                    model.predictor.predict(rows)
                    calls += 1
                elapsed = time.perf_counter() - started
                out.append(
                    {
                        "blas_threads": threads,
                        "batch": batch,
                        "ms_per_call": elapsed / calls * 1000,
                        "rows_per_s": calls * batch / elapsed,
                    }
                )
    return out


# --- the report -------------------------------------------------------------------------------


def pick(rows: list[Row], name: str, concurrency: int) -> Row | None:
    return next((r for r in rows if r.pattern == name and r.concurrency == concurrency), None)


OTHERS = ("threadpool", "threadpool-blas-default", "loop", "process-pool")


def model_bound(rows: list[Row], compute: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """What c=32 could reach if serving cost nothing beyond the control's HTTP + JSON work.

    Per request the cores pay the control's cost plus one row of the model at batch 32:
    1 / (1 / control req/s + 1 / (cores x rows/s at batch 32, BLAS 1)).
    """
    ceiling = pick(rows, "control", TARGET_CONCURRENCY)
    batch = next((c for c in compute if c["blas_threads"] == 1 and c["batch"] == 32), None)
    if ceiling is None or batch is None:
        return {}
    model_rps = cores * batch["rows_per_s"]
    bound = 1 / (1 / ceiling.rps + 1 / model_rps)
    return {"model_rows_per_s": model_rps, "bound_rps": bound, "share": bound / ceiling.rps}


def targets(rows: list[Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    c = TARGET_CONCURRENCY
    core = pick(rows, "corebound", c)
    if core is None:
        return out
    others = [r for r in (pick(rows, n, c) for n in OTHERS) if r is not None]
    if others:
        best = max(others, key=lambda r: r.rps)
        ratio = core.rps / best.rps
        out.append(
            {
                "target": f"c={c}: req/s >= {TARGET_VS_BEST_OTHER}x best other served pattern",
                "value": f"{ratio:.2f}x ({core.rps:.0f} vs {best.rps:.0f}, {best.pattern})",
                "ratio": ratio,
                "reached": ratio >= TARGET_VS_BEST_OTHER,
            }
        )
    ceiling = pick(rows, "control", c)
    if ceiling is not None:
        ratio = core.rps / ceiling.rps
        out.append(
            {
                "target": f"c={c}: req/s >= {TARGET_VS_CEILING:.0%} of the no-model ceiling",
                "value": f"{ratio:.0%} ({core.rps:.0f} vs {ceiling.rps:.0f})",
                "ratio": ratio,
                "reached": ratio >= TARGET_VS_CEILING,
            }
        )
    mine = [r for r in rows if r.pattern == "corebound"]
    worst = max(mine, key=lambda r: r.healthz_p99_ms)
    out.append(
        {
            "target": f"/healthz p99 <= {TARGET_HEALTHZ_P99_MS:g} ms under load (worst c)",
            "value": f"{worst.healthz_p99_ms:.1f} ms at c={worst.concurrency}",
            "ratio": worst.healthz_p99_ms / TARGET_HEALTHZ_P99_MS,
            "reached": worst.healthz_p99_ms <= TARGET_HEALTHZ_P99_MS
            and worst.healthz_failures == 0,
        }
    )
    one, pool_one = pick(rows, "corebound", 1), pick(rows, "threadpool", 1)
    if one is not None and pool_one is not None:
        out.append(
            {
                "target": "c=1: p50 no worse than the gunicorn `def` pattern",
                "value": f"{one.p50_ms:.2f} ms vs {pool_one.p50_ms:.2f} ms",
                "ratio": one.p50_ms / pool_one.p50_ms,
                "reached": one.p50_ms <= pool_one.p50_ms,
            }
        )
    return out


def machine() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu_model = found.group(1) if found else ""
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "cpus": os.cpu_count(),
        "cpu_limit": detect_cpu_limit(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": [
            f"{p['internal_api']} {p.get('version')} ({p.get('threading_layer')})"
            for p in threadpool_info()
        ],
        "wrk": wrk_version.split(" [", 1)[0] if wrk_version else "",
    }


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN: no sample


def spread(row: Row) -> str:
    if len(row.rps_rounds) < 2:
        return ""
    return " (" + ", ".join(f"{v:.0f}" for v in row.rps_rounds) + ")"


def markdown(result: dict[str, Any], rows: list[Row]) -> str:
    m, run = result["machine"], result["run"]
    lines = [
        "# Benchmark: corebound against the usual serving patterns",
        "",
        "Written by `scripts/benchmark.py` (it prints numbers; it is not a timed test).",
        f"Command: `{run['command']}`",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), CPU limit seen by the service "
        f"{m['cpu_limit']:g}; Python {m['python']}, numpy {m['numpy']}, {', '.join(m['blas'])}; "
        f"{m['wrk']}. Load average {run['load_before']:.2f} before, {run['load_after']:.2f} after "
        "(1 min). The load client runs on the same cores as the server, and other work on the "
        "machine competes with both: compare rows of one run, not runs.",
        "",
        f"Each cell: wrk, {run['threads']} thread, {run['duration_s']:g} s, one held-out row per "
        "POST /v1/predict over keep-alive connections, after a warm-up; `/healthz` probed every "
        "~20 ms on a fresh connection by a separate process during the same seconds. "
        "`server cores` / `wrk cores`: CPU time used over wall time. Errors: non-2xx + socket "
        "errors (wrk timeout 10 s). Every served pattern: gunicorn + UvicornWorker (uvloop, "
        f"httptools), {m['cpu_limit']:g} workers unless stated, corebound's own model loader "
        "and JSON codec.",
        "",
    ]
    if run.get("rounds", 1) > 1:
        lines += [
            f"{run['rounds']} rounds (all patterns, then again); each cell is the round with the "
            "median req/s (the upper one of an even count); req/s shows every round's value in "
            "brackets: the spread is the machine's noise.",
            "",
        ]
    lines += ["## Targets (c = 32 unless stated)", "", "| target | measured | reached |"]
    lines += ["| --- | --- | --- |"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {'yes' if t['reached'] else 'no'} |")
    bound = result.get("model_bound")
    if bound:
        lines += [
            "",
            f"The model alone bounds the ceiling ratio: {bound['model_rows_per_s']:.0f} rows/s "
            "on all cores at batch 32 (compute limit below) plus the control's HTTP + JSON "
            f"cost per request allows at most {bound['bound_rps']:.0f} req/s at c=32, "
            f"{bound['share']:.0%} of the ceiling, even if queueing, batching and metrics "
            "cost nothing.",
        ]
    lines += ["", "## Served patterns", ""]
    header = (
        "| pattern | c | req/s | p50 ms | p99 ms | errors | /healthz p50 ms | /healthz p99 ms "
        "| server cores | wrk cores |"
    )
    lines += [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for concurrency in sorted({r.concurrency for r in rows}):
        for r in (r for r in rows if r.concurrency == concurrency):
            health_fail = f" ({r.healthz_failures} failed)" if r.healthz_failures else ""
            lines.append(
                f"| {r.label} | {r.concurrency} | {r.rps:.0f}{spread(r)} | {fmt(r.p50_ms, 2)} "
                f"| {fmt(r.p99_ms)} | {r.errors} | {fmt(r.healthz_p50_ms)} "
                f"| {fmt(r.healthz_p99_ms)}{health_fail} | {r.server_cores:.2f} "
                f"| {r.client_cores:.2f} |"
            )
    lines += ["", "## Ratios to corebound (req/s of corebound / req/s of the pattern)", ""]
    concurrencies = sorted({r.concurrency for r in rows})
    lines.append("| pattern | " + " | ".join(f"c={c}" for c in concurrencies) + " |")
    lines.append("| --- |" + " ---: |" * len(concurrencies))
    names = list(dict.fromkeys(r.pattern for r in rows))
    for name in names:
        if name == "corebound":
            continue
        cells = []
        for c in concurrencies:
            core, other = pick(rows, "corebound", c), pick(rows, name, c)
            cells.append(f"{core.rps / other.rps:.2f}" if core and other and other.rps else "n/a")
        label = next(r.label for r in rows if r.pattern == name)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Compute limit (the model alone, in one process)", ""]
    lines += ["| BLAS threads | batch | ms per call | rows/s |", "| ---: | ---: | ---: | ---: |"]
    for c in result["compute"]:
        lines.append(
            f"| {c['blas_threads']} | {c['batch']} | {c['ms_per_call']:.3f} "
            f"| {c['rows_per_s']:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


def pick_median(cells: list[Row]) -> Row:
    """The round with the median req/s (the upper one of an even count), all rounds noted."""
    row = sorted(cells, key=lambda r: r.rps)[len(cells) // 2]
    row.rps_rounds = [r.rps for r in cells]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--duration", type=int, default=8, help="seconds per cell (wrk: whole)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds at c=8 per pattern")
    parser.add_argument(
        "--patterns",
        default="corebound,threadpool,threadpool-blas-default,loop,process-pool,control",
    )
    parser.add_argument(
        "--corebound-variant",
        action="append",
        default=[],
        metavar="VAR=VALUE[,...]",
        help="an extra corebound row with these env vars, e.g. MAX_WAIT_MS=1",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=1, help="repeat all; keep the median cell")
    parser.add_argument("--no-compute", action="store_true", help="skip the compute limit")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    # Internal: the /healthz prober process.
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--probe-seconds", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_main(args.probe, args.probe_seconds, 0.02)
        return

    cores = max(1, int(detect_cpu_limit()))
    known = patterns(cores)
    chosen = [known[name] for name in args.patterns.split(",") if name]
    chosen += [corebound_variant(spec, cores) for spec in args.corebound_variant]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    compute = [] if args.no_compute else compute_limit()
    for c in compute:
        print(f"compute: BLAS {c['blas_threads']} batch {c['batch']}: {c['rows_per_s']:.0f} rows/s")
    cells: dict[tuple[str, int], list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        lua = write_lua(Path(tmp))
        # BLAS left at default oversubscribes the cores (its threads spin), and the load it
        # leaves behind would slow whatever ran next: it runs last, shown in its place.
        order = sorted(chosen, key=lambda p: not p.blas_one)
        for _ in range(args.rounds):
            for pattern in order:
                with serve(pattern) as server:
                    if args.warmup > 0:
                        run_load(server, pattern, lua, 8, args.warmup, args.threads)
                    for concurrency in concurrencies:
                        row = run_load(
                            server, pattern, lua, concurrency, args.duration, args.threads
                        )
                        cells.setdefault((pattern.name, concurrency), []).append(row)
                        print(
                            f"{pattern.name:>24} c={concurrency:<3} {row.rps:7.0f} req/s"
                            f"  p50 {row.p50_ms:7.2f}  p99 {row.p99_ms:7.1f} ms"
                            f"  errors {row.errors}  healthz p99 {row.healthz_p99_ms:6.1f} ms"
                            f"  server {row.server_cores:.2f}  wrk {row.client_cores:.2f} cores"
                            f"  load {row.load_average:.2f}",
                            flush=True,
                        )
    rows = [pick_median(cells[(p.name, c)]) for c in concurrencies for p in chosen]
    command = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    result: dict[str, Any] = {
        "machine": machine(),
        "run": {
            "command": command.replace(str(REPO) + "/", "").strip(),
            "duration_s": args.duration,
            "threads": args.threads,
            "rounds": args.rounds,
            "concurrency": concurrencies,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "compute": compute,
        "rows": [{**asdict(r), "errors": r.errors} for r in rows],
        "targets": targets(rows),
        "model_bound": model_bound(rows, compute, cores),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "benchmark.md").write_text(markdown(result, rows))
    for t in result["targets"]:
        print(f"{'reached' if t['reached'] else 'MISSED ':>8}  {t['target']}: {t['value']}")
    print(f"wrote {args.out / 'benchmark.md'} and {args.out / 'benchmark.json'}")

