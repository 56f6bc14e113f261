"""Measure one pod: the real service under a CFS quota, Locust stepping users until p99 > SLO.

Each step is its own short headless Locust run with the constant shape (so each p99 is
that step's alone); users grow geometrically until the SLO is crossed, then one step
bisects between the last pass and the first miss, and one at twice the users finds the
throughput ceiling. The service's CPU comes from its
processes' /proc counters (the cgroup v1 `cpu` hierarchy here has no usage counter),
memory from the cgroup's peak, start-up from spawn to /readyz with every worker up.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from loadtests.settings import Traffic
from scripts.capacity.fit import Measurement, Step
from scripts.local import locust_run
from scripts.local.proc import pids_cpu_seconds
from scripts.local.service import Service, run_service

REPO = Path(__file__).resolve().parents[2]


def service_cpu_seconds(svc: Service) -> float:
    return pids_cpu_seconds([svc.process.pid, *svc.worker_pids()])


def cfs_periods(svc: Service) -> tuple[int, int]:
    """(CFS periods, periods throttled) so far: did the quota, or something else, bind?"""
    if svc.cgroup is None:
        return 0, 0
    cpu = svc.cgroup.stats().cpu()
    return int(cpu["periods"]), int(cpu["throttled_periods"])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat's first line."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def warm_up(url: str, tmp: Path) -> None:
    """First requests pay for lazy imports, BLAS start-up and batch shapes: not in any p99."""
    env = {"CONSTANT_USERS": "10", "CONSTANT_SECONDS": "4", "SPAWN_RATE": "10"}
    locust_run.run(url, "loadtests/shapes/constant.py", env, tmp / "warm-up", timeout_s=60)


def measure(
    cpu: float,
    slo_p99_ms: float,
    max_failure_ratio: float = 0.01,
    step_s: float = 10,
    start_users: int = 5,
    growth: float = 1.6,
    max_users: int = 400,
    budget_s: float = 180,
    progress: Callable[[str], None] = print,
) -> Measurement:
    workers = max(1, math.floor(cpu))  # service.sizing.formula.plan() in throughput mode
    started = time.monotonic()
    with run_service(cpu_quota=cpu, wait_workers=workers) as svc:
        startup_s = time.monotonic() - started
        plan = httpx.get(svc.url + "/info", timeout=10).json()["plan"]
        progress(
            f"[{cpu:g} CPU] ready in {startup_s:.1f} s: {plan['workers']} worker(s) x"
            f" {plan['threads']} thread(s), planned memory {plan['memory_mib']} MiB"
        )
        steps: list[Step] = []
        with tempfile.TemporaryDirectory(prefix="corebound-plan-") as tmp:
            warm_up(svc.url, Path(tmp))

            def run_step(users: int) -> Step:
                cpu_before = service_cpu_seconds(svc)
                cfs_before, machine_before = cfs_periods(svc), machine_ticks()
                r = locust_run.run(
                    svc.url,
                    "loadtests/shapes/constant.py",
                    {
                        "CONSTANT_USERS": str(users),
                        "CONSTANT_SECONDS": f"{step_s:g}",
                        "SPAWN_RATE": str(users),
                        "SLO_P99_MS": f"{slo_p99_ms:g}",
                        "SLO_MAX_FAILURE_RATIO": f"{max_failure_ratio:g}",
                    },
                    Path(tmp) / f"step-{users}",
                    timeout_s=step_s + 60,
                )
                # Per second of load: the wall time also holds Locust's start-up and exit,
                # when the pod idles, and would understate the utilization the HPA sees.
                cores = (service_cpu_seconds(svc) - cpu_before) / step_s
                periods, throttled = (
                    a - b for a, b in zip(cfs_periods(svc), cfs_before, strict=True)
                )
                busy, total = (a - b for a, b in zip(machine_ticks(), machine_before, strict=True))
                step = Step(
                    users=users,
                    seconds=step_s,
                    requests=int(r.number("Request Count")),
                    failures=int(r.number("Failure Count")),
                    rps=r.number("Requests/s"),
                    p50_ms=r.number("50%"),
                    p95_ms=r.number("95%"),
                    p99_ms=r.number("99%"),
                    cores=cores,
                    client_cores=r.client_cores,
                    throttled=throttled / periods if periods else 0.0,
                    machine_busy=busy / total if total else 0.0,
                )
                ok = step.within(slo_p99_ms, max_failure_ratio)
                progress(
                    f"[{cpu:g} CPU] {users:4d} users: {step.rps:7.1f} req/s  p50 {step.p50_ms:4.0f}"
                    f"  p95 {step.p95_ms:4.0f}  p99 {step.p99_ms:5.0f} ms  failures"
                    f" {step.failures}/{step.requests}  pod CPU {cores:.2f} (throttled"
                    f" {step.throttled:.0%})  Locust CPU {r.client_cores:.2f}  machine"
                    f" {step.machine_busy:.0%}"
                    f"  {'within' if ok else 'OVER'} SLO"
                )
                steps.append(step)
                return step

            users, last_pass, first_fail, retried = start_users, 0, 0, False
            while users <= max_users and time.monotonic() - started < budget_s:
                ok = run_step(users).within(slo_p99_ms, max_failure_ratio)
                if not ok and not retried:
                    # One miss can be a neighbour's burst on a shared machine: measure again.
                    retried = True
                    continue
                retried = False
                last_pass, first_fail = (users, first_fail) if ok else (last_pass, users)
                if (last_pass and first_fail) or (not ok and users == 1):
                    break
                # Grow until the SLO is crossed; if even the first step missed, halve.
                users = max(users + 1, math.ceil(users * growth)) if ok else max(1, users // 2)
            if first_fail - last_pass > 2 and last_pass:
                run_step((last_pass + first_fail) // 2)
            if first_fail:
                run_step(first_fail * 2)  # past the knee: the pod's throughput ceiling
        peak = svc.cgroup.stats().memory()["peak_mib"] if svc.cgroup else 0.0
    return Measurement(
        cpu=cpu,
        workers=plan["workers"],
        threads=plan["threads"],
        startup_s=startup_s,
        memory_plan_mib=plan["memory_mib"],
        memory_peak_mib=peak,
        slo_p99_ms=slo_p99_ms,
        max_failure_ratio=max_failure_ratio,
        steps=sorted(steps, key=lambda s: s.users),
        load_average=os.getloadavg()[0],
        machine_cpus=len(os.sched_getaffinity(0)),
        client=Traffic.from_env().client,  # the Locust runs inherit this environment
    )
