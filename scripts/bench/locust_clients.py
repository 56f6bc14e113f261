"""Locust's two HTTP clients, FastHttpUser and HttpUser, in requests per second per client core.

    python -m scripts.bench locust-clients [--rounds 3] [--seconds 25] [--users 400]
        [--server-cpu 1] [--client-cpu 0.6] [--out reports/locust_clients.json]

One Locust process per client (one Locust worker is one process, so one core) runs the real
loadtests/locustfile.py with the constant shape, headless, `LOADTEST_CLIENT=fast|http`, against
the same real gunicorn serving the default model in a cgroup with a CFS quota of
`--server-cpu`. With two or more CPUs Locust is pinned to the first and the service to the
second, so neither takes the other's core; Locust also runs under a CFS quota of
`--client-cpu`, below what one server core answers, so the client, not the server, is what
saturates (one service core answers about 3,000 req/s of this mix, less than a whole
FastHttpUser core sends). The two clients alternate `--rounds` times so both see the same
machine noise; medians are written and printed. Per run, over its steady window (after
`--warmup` s, before the shape stops): requests from Locust's own count
(scripts/bench/locust_meter.py, exact times) and CPU from /proc for Locust and the service.
req/s per client core = requests / Locust's CPU seconds. Asserts nothing.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.bench.report import machine
from scripts.local.cgroup import Cgroup
from scripts.local.locust_run import LOCUSTFILE, read_totals
from scripts.local.proc import pids_cpu_seconds
from scripts.local.service import REPO, Service, run_service

CLIENTS = {"fast": "FastHttpUser", "http": "HttpUser"}
SHAPE = "loadtests/shapes/constant.py"
METER = "scripts/bench/locust_meter.py"
SATURATED = 0.9  # a process at 90 % of its core(s) is what limits the run


def pin(svc: Service, cpu: int) -> None:
    """Every thread of gunicorn and its workers onto `cpu` (threads keep their own masks)."""
    for pid in [svc.process.pid, *svc.worker_pids()]:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cpu})


def interpolate(samples: list[tuple[float, float]], t: float) -> float:
    """The value at time `t` between the two (time, value) samples around it."""
    times = [s[0] for s in samples]
    i = min(max(1, bisect.bisect_left(times, t)), len(samples) - 1)
    (t0, v0), (t1, v1) = samples[i - 1], samples[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1


def steady(meter: list[list[float]], warmup_s: float, seconds: float) -> tuple[list[float], ...]:
    """The first and last meter lines of the steady window: `warmup_s` after the first
    request, one second before the shape stops (users stop, the count stalls)."""
    first = next(m[0] for m in meter if m[1] > 0)
    inside = [m for m in meter if first + warmup_s <= m[0] <= first + seconds - 1]
    if len(inside) < 2:
        raise RuntimeError(f"no steady window in {len(meter)} meter lines: run longer")
    return inside[0], inside[-1]


def limit(client_cores: float, client_cpu: float, server_cores: float, server_cpu: float) -> str:
    """What held the rate: the client's CPU (its quota), the service's quota, or neither."""
    if client_cores >= SATURATED * client_cpu:
        return "client (Locust's CPU quota saturated)"
    if server_cores >= SATURATED * server_cpu:
        return "server (its CPU quota saturated)"
    return "neither saturated (think time: more users)"


def run_once(
    svc: Service,
    client: str,
    args: argparse.Namespace,
    prefix: Path,
    cpus: list[int],
    quota: Cgroup | None = None,
) -> dict[str, Any]:
    meter_file = prefix.with_suffix(".meter")
    env = {
        **os.environ, "LOCUST_HOST": svc.url, "LOADTEST_CLIENT": client,
        "CONSTANT_USERS": str(args.users), "CONSTANT_SECONDS": f"{args.seconds:g}",
        "SPAWN_RATE": str(args.users), "METER_FILE": str(meter_file),
        # The verdict does not matter here: the rate does.
        "SLO_P95_MS": "600000", "SLO_P99_MS": "600000", "SLO_MAX_FAILURE_RATIO": "1",
    }  # fmt: skip
    cmd = [sys.executable, "-m", "locust", "-f", f"{LOCUSTFILE},{SHAPE},{METER}", "--headless",
           "--only-summary", "--csv", str(prefix)]  # fmt: skip
    server_pids = [svc.process.pid, *svc.worker_pids()]

    def confine() -> None:
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[0]})
        if quota is not None:
            quota.enter()

    with prefix.with_suffix(".log").open("w") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=confine
        )
        client_s: list[tuple[float, float]] = []
        server_s: list[tuple[float, float]] = []
        while proc.poll() is None:
            now = time.time()
            client_s.append((now, pids_cpu_seconds([proc.pid])))
            server_s.append((now, pids_cpu_seconds(server_pids)))
            time.sleep(0.2)
    if proc.returncode not in (0, 1):  # 1: the (unused) SLO verdict
        raise RuntimeError(f"locust exited {proc.returncode}: {prefix.with_suffix('.log')}")
    meter = [json.loads(line) for line in meter_file.read_text().splitlines()]
    (t0, n0, f0), (t1, n1, f1) = steady(meter, args.warmup, args.seconds)
    wall = t1 - t0
    client_cpu_s = interpolate(client_s, t1) - interpolate(client_s, t0)
    server_cpu_s = interpolate(server_s, t1) - interpolate(server_s, t0)
    totals = read_totals(Path(f"{prefix}_stats.csv"))
    result = {
        "client": client, "users": args.users, "window_s": round(wall, 2),
        "requests": int(n1 - n0), "failures": int(f1 - f0), "rps": (n1 - n0) / wall,
        "client_cores": client_cpu_s / wall, "server_cores": server_cpu_s / wall,
        "rps_per_client_core": (n1 - n0) / client_cpu_s,
        "p50_ms": float(totals.get("50%", "nan")), "p99_ms": float(totals.get("99%", "nan")),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip
    result["limit"] = limit(
        result["client_cores"], args.client_cpu, result["server_cores"], args.server_cpu
    )
    return result


def summarize(client: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of every figure over the rounds; the limit of the median round by rate."""
    numeric = [k for k, v in rounds[0].items() if isinstance(v, int | float)]
    medians = {k: round(statistics.median(r[k] for r in rounds), 3) for k in numeric}
    by_rate = sorted(rounds, key=lambda r: r["rps_per_client_core"])
    return {"client": client, "user_class": CLIENTS[client], **medians,
            "limit": by_rate[len(by_rate) // 2]["limit"], "rounds": rounds}  # fmt: skip


COLUMNS = (("client", "user_class", "<14"), ("users", "users", ">6"), ("req/s", "rps", ">9.0f"),
           ("client cores", "client_cores", ">13.2f"),
           ("req/s per core", "rps_per_client_core", ">15.0f"),
           ("server cores", "server_cores", ">13.2f"), ("p50 ms", "p50_ms", ">8.0f"),
           ("p99 ms", "p99_ms", ">8.0f"), ("failures", "failures", ">9"),
           ("  limit", "limit", "<40"))  # fmt: skip


def table(clients: list[dict[str, Any]]) -> list[str]:
    header = "".join(f"{title:{spec.split('.')[0]}}" for title, _, spec in COLUMNS)
    return [header] + ["".join(f"{'  ' if key == 'limit' else ''}{c[key]:{spec}}"
                               for _, key, spec in COLUMNS) for c in clients]  # fmt: skip


def measure(
    args: argparse.Namespace,
    cpus: list[int],
    quota: Cgroup,
    rounds: dict[str, list[dict[str, Any]]],
) -> None:
    """The service up once, warmed, then the clients' runs alternating into `rounds`."""
    workers = max(1, int(args.server_cpu))
    with (
        run_service(cpu_quota=args.server_cpu, wait_workers=workers) as svc,
        tempfile.TemporaryDirectory(prefix="bench-locust-clients-") as tmp,
    ):
        if len(cpus) > 1:
            pin(svc, cpus[1])
        # Warm the service (lazy imports, batch shapes) before anything counts.
        warm = argparse.Namespace(**{**vars(args), "seconds": 6, "warmup": 2, "users": 50})
        run_once(svc, "fast", warm, Path(tmp) / "warm-up", cpus, quota)
        for i in range(args.rounds):
            for client in CLIENTS:
                r = run_once(svc, client, args, Path(tmp) / f"{client}-{i}", cpus, quota)
                rounds[client].append(r)
                print(f"round {i + 1} {client}: " + ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in r.items()), flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench locust-clients")
    parser.add_argument("--rounds", type=int, default=3, help="runs per client, alternating")
    parser.add_argument("--seconds", type=float, default=25, help="length of each Locust run")
    parser.add_argument("--warmup", type=float, default=8, help="seconds not measured per run")
    parser.add_argument("--users", type=int, default=400, help="enough to saturate the client")
    parser.add_argument("--server-cpu", type=float, default=1, help="the service's CFS quota")
    parser.add_argument(
        "--client-cpu",
        type=float,
        default=0.6,
        help="Locust's CFS quota: below what one server core answers, so the client saturates",
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "locust_clients.json")
    args = parser.parse_args(argv)
    if reason := Cgroup.unavailable_reason():
        print(f"locust-clients needs a CPU cgroup: {reason}", file=sys.stderr)
        return 2
    cpus = sorted(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, Any]]] = {c: [] for c in CLIENTS}
    quota = Cgroup(cpu_quota=args.client_cpu).create()
    try:
        measure(args, cpus, quota, rounds)
    finally:
        quota.remove()
    clients = [summarize(c, rs) for c, rs in rounds.items()]
    ratio = statistics.median(
        f["rps_per_client_core"] / h["rps_per_client_core"]
        for f, h in zip(rounds["fast"], rounds["http"], strict=True)
    )
    given = " ".join(sys.argv[2:] if argv is None else argv).replace(str(REPO) + "/", "")
    run = {"command": f"python -m scripts.bench locust-clients {given}".strip(),
           "rounds": args.rounds, "seconds": args.seconds, "warmup_s": args.warmup,
           "users": args.users, "server_cpu_quota": args.server_cpu,
           "client_cpu_quota": args.client_cpu,
           "pinned": len(cpus) > 1, "load_before": load_before,
           "load_after": os.getloadavg()}  # fmt: skip
    report = {"machine": machine(), "run": run, "note": NOTE, "clients": clients,
              "fast_over_http_per_core": round(ratio, 3)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(table(clients)))
    print(f"FastHttpUser / HttpUser, req/s per client core: {ratio:.2f}x")
    print(f"wrote {args.out}")
    return 0


NOTE = (
    "One Locust process per client (one Locust worker = one process = one core) running "
    "loadtests/locustfile.py (constant shape, the default task mix v1=3 v2=1 v2_binary=1, one "
    "row per request, think time 0.05-0.15 s) against the real gunicorn serving the default "
    "model in a cgroup with a CFS quota of run.server_cpu_quota. With run.pinned, Locust runs "
    "on the machine's first CPU and every service thread on its second. Figures are medians "
    "over the alternating rounds, each over its run's steady window: requests from Locust's "
    "own count, CPU from /proc. rps_per_client_core = requests / Locust's CPU seconds: what "
    "one Locust worker core sends with this locustfile (its answer checks included). limit: "
    "'client' when Locust used >= 90 % of its core (the rate is the client's), 'server' when "
    "the service used >= 90 % of its quota (then the per-core figure is still requests per "
    "CPU second, but the client was not saturated)."
)
