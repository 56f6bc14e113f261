"""Capacity planner: measure one pod, recommend a fleet, and simulate the HPA driving it.

    python -m scripts.capacity --cpu 1 2 --peak-rps 2000 --slo-p99-ms 100
    python -m scripts.capacity --capacity-rps 180 --startup-s 4 --peak-rps 2000

The first form runs the real service under a CFS quota of each `--cpu` and steps Locust
until p99 crosses the SLO (a few minutes at most per CPU setting, progress on stdout). The
second skips measuring. Both then recommend CPU, memory, HPA target and min/max replicas,
simulate the HPA (step, spike, daily curve) with the measured capacity and start-up time,
and write reports/capacity-<cpu>cpu.{json,md,png} (+ capacity-steps.png when measured).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from dataclasses import asdict, fields
from pathlib import Path

from scripts.capacity import report as plan_report
from scripts.capacity.fit import Capacity, Measurement, capacity
from scripts.capacity.fleet import Pod, daily_profile, spike_profile, step_profile
from scripts.capacity.target import Plan, plan, search

REPO = Path(__file__).resolve().parents[2]
# A Locust worker kept under this share of its core: a busier gevent loop delays answers
# before Locust times them, adding its own wait to the p99 it reports.
LOCUST_BUSY = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--cpu", type=float, nargs="+", default=[1.0], help="CPU limit(s) per pod to measure"
    )
    p.add_argument("--peak-rps", type=float, default=2000, help="target peak request rate")
    p.add_argument("--slo-p99-ms", type=float, default=100)
    p.add_argument("--max-failure-ratio", type=float, default=0.01)
    p.add_argument(
        "--trough-fraction", type=float, default=0.2, help="lowest load / peak (minReplicas)"
    )
    m = p.add_argument_group("measuring")
    m.add_argument("--step-seconds", type=float, default=10)
    m.add_argument("--max-users", type=int, default=400)
    m.add_argument("--budget-s", type=float, default=180, help="time limit per CPU setting")
    s = p.add_argument_group("skip measuring")
    s.add_argument(
        "--measurement",
        type=Path,
        nargs="+",
        help="re-plan from capacity-<cpu>cpu.json files a measuring run wrote (ignores --cpu)",
    )
    s.add_argument("--capacity-rps", type=float, help="per-pod req/s at the SLO: skip measuring")
    s.add_argument("--startup-s", type=float, help="pod start to ready (with --capacity-rps)")
    s.add_argument(
        "--utilization-at-slo",
        type=float,
        default=0.85,
        help="CPU share used at --capacity-rps (with --capacity-rps)",
    )
    s.add_argument(
        "--memory-mib", type=int, default=256, help="memory per pod (with --capacity-rps)"
    )
    h = p.add_argument_group("HPA (defaults: the chart's values)")
    h.add_argument("--target-percent", type=int, help="override the recommended CPU target")
    h.add_argument("--tolerance", type=float, default=0.1)
    h.add_argument("--sync-s", type=int, default=15)
    h.add_argument("--up-window-s", type=int, default=0)
    h.add_argument("--up-percent", type=int, default=100)
    h.add_argument("--up-pods", type=int, default=4)
    h.add_argument("--up-period-s", type=int, default=15)
    h.add_argument("--down-window-s", type=int, default=300)
    h.add_argument("--down-percent", type=int, default=50)
    h.add_argument("--down-period-s", type=int, default=60)
    h.add_argument(
        "--metric-window-s", type=int, default=15, help="CPU averaging of metrics-server"
    )
    h.add_argument(
        "--extra-startup-s",
        type=float,
        default=0,
        help="start-up a cluster adds to the measured one (scheduling, image pull)",
    )
    p.add_argument(
        "--locust-clients",
        type=Path,
        default=REPO / "reports" / "locust_clients.json",
        help="FastHttpUser req/s per core (python -m scripts.bench locust-clients)",
    )
    p.add_argument("--out", type=Path, default=REPO / "reports")
    args = p.parse_args(argv)
    if args.capacity_rps is not None and args.startup_s is None:
        p.error("--capacity-rps needs --startup-s (the simulation needs the start-up time)")
    return args


def given_capacity(args: argparse.Namespace, cpu: float) -> Capacity:
    u = args.utilization_at_slo
    return Capacity(
        cpu=cpu,
        slo_rps=args.capacity_rps,
        max_rps=args.capacity_rps / u,
        cpu_per_request_ms=1000 * cpu * u / args.capacity_rps,
        utilization_at_slo=u,
        startup_s=args.startup_s,
        client_bound=False,
        memory_mib=args.memory_mib,
    )


def locust_workers(rps: float, clients: Path) -> dict[str, float] | None:
    """Locust workers (one core each) that send `rps`, from FastHttpUser's measured rate."""
    if not clients.is_file():
        return None
    found = json.loads(clients.read_text())["clients"]
    per_core = next(c["rps_per_client_core"] for c in found if c["client"] == "fast")
    workers = math.ceil(rps / (per_core * LOCUST_BUSY))
    return {"rps": rps, "rps_per_core": per_core, "busy": LOCUST_BUSY, "workers": workers}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m scripts.capacity " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    measured: list[Measurement] = []
    saved = {}
    for path in args.measurement or []:
        doc = json.loads(path.read_text())
        saved[doc["measurement"]["cpu"]] = (Measurement.from_dict(doc["measurement"]), doc)
    for cpu in sorted(saved) or args.cpu:
        m = None
        if cpu in saved:
            m, doc = saved[cpu]
            measured.append(m)
            cap = capacity(m)
            measured_by = doc.get("measured_by") or doc["command"]
        elif args.capacity_rps is None:
            from scripts.capacity.measure import (
                measure,  # imports the service runner only when measuring
            )

            m = measure(
                cpu,
                args.slo_p99_ms,
                args.max_failure_ratio,
                args.step_seconds,
                max_users=args.max_users,
                budget_s=args.budget_s,
            )
            measured.append(m)
            cap = capacity(m)
            measured_by = command
        else:
            cap = given_capacity(args, cpu)
            measured_by = ""
        pod = Pod(
            slo_rps=cap.slo_rps,
            max_rps=cap.max_rps,
            startup_s=cap.startup_s + args.extra_startup_s,
            cpu_per_rps=cap.cpu_per_request_ms / 1000 / cap.cpu,
            latency=cap.latency,
            slo_p99_ms=args.slo_p99_ms,
            utilization=cap.utilization,
        )
        profiles = {
            "step": step_profile(args.peak_rps, args.trough_fraction),
            "spike": spike_profile(args.peak_rps, max(args.trough_fraction, 0.3)),
            "daily": daily_profile(args.peak_rps, args.trough_fraction),
        }
        trials: list[Plan] = []
        if args.target_percent:
            chosen = plan(cap, pod, profiles, args, args.target_percent)
        else:
            chosen, trials = search(cap, pod, profiles, args)
        rec, spec, outcomes = chosen.rec, chosen.spec, chosen.outcomes
        target = rec.target_percent
        locust = locust_workers(args.peak_rps, args.locust_clients)
        stem = args.out / f"capacity-{cpu:g}cpu"
        md = plan_report.markdown(
            m, cap, rec, spec, outcomes, args.peak_rps, args.slo_p99_ms, command, pod.startup_s,
            measured_by if measured_by != command else "", locust,
        )  # fmt: skip
        md += plan_report.target_table([t.row() for t in trials], target, args.slo_p99_ms)
        md += f"\n![HPA simulation]({stem.name}.png)\n\n## Replica timeline: spike\n\n"
        md += plan_report.replica_timeline(outcomes[1], every_s=60)
        stem.with_suffix(".md").write_text(md)
        plan_report.simulation_png(outcomes, cap, stem.with_suffix(".png"))
        summary = {
            "command": command,
            "measured_by": measured_by,
            "measurement": m.as_dict() if m else None,
            "capacity": asdict(cap),
            "recommendation": {
                **asdict(rec),
                "target_from": "--target-percent" if args.target_percent else "simulation",
                "locust_workers": locust,
            },
            "target_trials": [t.row() for t in trials],
            "simulation": [
                # Not asdict(): it would deep-copy every second of the timeline first.
                {f.name: getattr(o, f.name) for f in fields(o) if f.name != "timeline"}
                for o in outcomes
            ],
        }
        stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        print(
            f"[{cpu:g} CPU] capacity {cap.slo_rps:.0f} req/s at p99 <= {args.slo_p99_ms:g} ms"
            f"{' (client-bound: a lower bound)' if cap.client_bound else ''},"
            f" {cap.max_rps:.0f} req/s at most, ready in {cap.startup_s:.1f} s"
            f"{'; knee bound by ' + cap.knee_bound_by if cap.knee_bound_by else ''} ->"
            f" cpu {rec.cpu:g}, memory {rec.memory_mib} Mi, HPA target {target} %,"
            f" replicas {rec.min_replicas}..{rec.max_replicas} for {args.peak_rps:g} req/s"
            + (f", Locust workers {locust['workers']:g}" if locust else ""),
            flush=True,
        )
        for o in outcomes:
            print(
                f"    {o.profile:6s} under-served {o.underserved_s} s, peak backlog"
                f" {o.peak_backlog:.0f} req, max {o.max_replicas} pods",
                flush=True,
            )
        print(f"    report: {stem}.md", flush=True)
    if measured:
        plan_report.steps_png(measured, args.out / "capacity-steps.png")
    return 0
