"""Markdown tables and PNG charts for the capacity plan (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build box or in a Job
import matplotlib.pyplot as plt

from scripts.capacity.fit import Capacity, Measurement, Recommendation
from scripts.capacity.fleet import Outcome
from scripts.capacity.hpa import HpaSpec


def markdown(
    m: Measurement | None,
    c: Capacity,
    r: Recommendation,
    spec: HpaSpec,
    outcomes: list[Outcome],
    peak_rps: float,
    slo_p99_ms: float,
    command: str,
    sim_startup_s: float,
    measured_by: str = "",
) -> str:
    lines = [f"# Capacity plan: {c.cpu:g} CPU per pod", "", f"Command: `{command}`", ""]
    if measured_by:
        lines += [f"Measured by: `{measured_by}`", ""]
    if m is not None:
        lines += [
            f"Measured: gunicorn with {m.workers} worker(s) x {m.threads} thread(s) under a CFS"
            f" quota of {m.cpu:g} CPU, Locust stepping users, SLO p99 <= {m.slo_p99_ms:g} ms,"
            f" on a {m.machine_cpus}-CPU machine shared with Locust (1-minute load average"
            f" {m.load_average:.1f} at the end).",
            "",
            "| users | req/s | p50 ms | p95 ms | p99 ms | failures | pod CPU (cores)"
            " | CFS throttled | Locust CPU | machine busy |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {s.users} | {s.rps:.0f} | {s.p50_ms:.0f} | {s.p95_ms:.0f} | {s.p99_ms:.0f}"
            f" | {s.failures}/{s.requests} | {s.cores:.2f} | {s.throttled:.0%}"
            f" | {s.client_cores:.2f} | {s.machine_busy:.0%} |"
            for s in m.steps
        ]
        lines.append("")
    bound = " (lower bound: Locust ran out of CPU before the pod crossed the SLO)"
    lines += [
        "| per pod | value |",
        "| --- | ---: |",
        f"| capacity at p99 <= {slo_p99_ms:g} ms | {c.slo_rps:.0f} req/s"
        f"{bound if c.client_bound else ''} |",
        f"| throughput ceiling | {c.max_rps:.0f} req/s |",
        f"| CPU per request | {c.cpu_per_request_ms:.2f} ms |",
        f"| CPU utilization at SLO capacity | {c.utilization_at_slo:.0%} |",
        f"| start-up to ready | {c.startup_s:.1f} s |",
        f"| p99 crossed the SLO, bound by | {c.knee_bound_by or 'not crossed'} |",
        "",
        f"Recommendation for {peak_rps:g} req/s at p99 <= {slo_p99_ms:g} ms:",
        "",
        "| setting | value |",
        "| --- | ---: |",
        f"| resources.cpu (requests = limits) | {r.cpu:g} |",
        f"| memory | {r.memory_mib} Mi |",
        f"| HPA averageUtilization | {r.target_percent} % |",
        f"| per-pod rate at target | {r.per_pod_rps_at_target:.0f} req/s |",
        f"| minReplicas | {r.min_replicas} |",
        f"| maxReplicas | {r.max_replicas} |",
        "",
        f"HPA simulation (sync {spec.sync_s:g} s, tolerance {spec.tolerance:g}, scale-up window"
        f" {spec.up.stabilization_s:g} s, scale-down window {spec.down.stabilization_s:g} s,"
        f" pods ready {sim_startup_s:.1f} s after being asked for):",
        "",
        "| profile | seconds | under-served s | peak backlog (req) | peak wait s"
        " | max replicas | pod-hours |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {o.profile} | {len(o.timeline.t)} | {o.underserved_s} | {o.peak_backlog:.0f}"
        f" | {o.peak_wait_s:.1f} | {o.max_replicas} | {o.pod_hours:.1f} |"
        for o in outcomes
    ]
    return "\n".join(lines) + "\n"


def replica_timeline(outcome: Outcome, every_s: int) -> str:
    """The replica timeline as a table, one row per change of desired or ready replicas."""
    tl = outcome.timeline
    rows = [
        "| t (s) | demand req/s | desired | ready | CPU % | backlog |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    last = None
    for i, t in enumerate(tl.t):
        key = (tl.desired[i], tl.ready[i])
        if key != last or t % every_s == 0:
            rows.append(
                f"| {t} | {tl.demand_rps[i]:.0f} | {tl.desired[i]} | {tl.ready[i]}"
                f" | {tl.utilization[i]:.0%} | {tl.backlog[i]:.0f} |"
            )
            last = key
    return "\n".join(rows) + "\n"


def simulation_png(outcomes: list[Outcome], c: Capacity, path: Path) -> None:
    fig, axes = plt.subplots(len(outcomes), 1, figsize=(10, 3.2 * len(outcomes)), squeeze=False)
    for ax, o in zip(axes[:, 0], outcomes, strict=True):
        tl = o.timeline
        hours = len(tl.t) > 4 * 3600
        x = [t / 3600 for t in tl.t] if hours else tl.t
        ax.plot(x, tl.demand_rps, color="black", lw=1, label="demand req/s")
        ax.plot(
            x,
            [n * c.slo_rps for n in tl.ready],
            color="tab:green",
            lw=1,
            label="ready pods x SLO capacity",
        )
        ax.fill_between(x, 0, tl.backlog, color="tab:red", alpha=0.4, label="backlog (req)")
        top = 1.3 * max(max(tl.demand_rps), max(n * c.slo_rps for n in tl.ready))
        ax.set_ylim(0, top)  # a spike's backlog can dwarf the rates: its peak is in the title
        ax.set_ylabel("req/s")
        ax.set_xlabel("hours" if hours else "seconds")
        ax.set_title(
            f"{o.profile}: {o.underserved_s} s under-served, peak backlog {o.peak_backlog:.0f}"
            f" req, max {o.max_replicas} pods"
        )
        right = ax.twinx()
        right.step(x, tl.desired, where="post", color="tab:blue", lw=1, label="desired")
        right.step(x, tl.ready, where="post", color="tab:orange", lw=1, ls="--", label="ready")
        right.set_ylabel("replicas")
        right.set_ylim(0, 1.3 * max(tl.desired))
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def steps_png(measurements: list[Measurement], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in measurements:
        # Points, not a line: repeated and bisecting steps are not in rate order.
        ax.plot(
            [s.rps for s in m.steps], [s.p99_ms for s in m.steps], "o", label=f"{m.cpu:g} CPU p99"
        )
    if measurements:
        ax.axhline(measurements[0].slo_p99_ms, color="red", ls=":", label="SLO p99")
    ax.set_xlabel("throughput req/s")
    ax.set_ylabel("p99 ms")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
