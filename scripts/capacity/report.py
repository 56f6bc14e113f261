"""Markdown tables and PNG charts for the capacity plan (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    locust: dict[str, float] | None = None,
) -> str:
    lines = [f"# Capacity plan: {c.cpu:g} CPU per pod", "", f"Command: `{command}`", ""]
    if measured_by:
        lines += [f"Measured by: `{measured_by}`", ""]
    if m is not None:
        lines += [
            f"Measured: gunicorn with {m.workers} worker(s) x {m.threads} thread(s) under a CFS"
            f" quota of {m.cpu:g} CPU, Locust ({m.client_class}, one process) stepping users,"
            f" SLO p99 <= {m.slo_p99_ms:g} ms, on a {m.machine_cpus}-CPU machine shared with"
            f" Locust (1-minute load average {m.load_average:.1f} at the end).",
            "",
            shared_machine(m),
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
        *(
            [f"| requests per Locust user per second, within the SLO | {c.user_rps:.1f} |"]
            if c.user_rps
            else []
        ),
        "",
        f"Recommendation for {peak_rps:g} req/s at p99 <= {slo_p99_ms:g} ms:",
        "",
        "| setting | value |",
        "| --- | ---: |",
        f"| resources.cpu (requests = limits) | {r.cpu:g} |",
        f"| memory | {r.memory_mib} Mi |",
        f"| HPA averageUtilization | {r.target_percent} % |",
        f"| per-pod rate at target | {r.per_pod_rps_at_target:.0f} req/s |",
        f"| CPU per request at target (CPU there / rate there) |"
        f" {r.cpu_ms_per_request_at_target:.2f} ms |",
        f"| minReplicas | {r.min_replicas} |",
        f"| maxReplicas | {r.max_replicas} |",
    ]
    if locust:
        lines.append(
            f"| Locust workers (FastHttpUser, one core each) to send {locust['rps']:g} req/s"
            f" | {locust['workers']:g} |"
        )
    lines += [
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


def shared_machine(m: Measurement) -> str:
    """Where this machine leaves the measurement: the client's and the pod's cores."""
    busiest = max((s.client_cores for s in m.steps), default=0.0)
    client = f"Locust used at most {busiest:.2f} of a core"
    if m.cpu + 1 <= m.machine_cpus:
        return (
            f"{client}, beside the pod's {m.cpu:g}: the client had a core of its own, so the"
            f" pod's quota, not the client, is what the steps measure."
        )
    return (
        f"{client}, on the same {m.machine_cpus} cores as the pod's quota of {m.cpu:g}: pod"
        f" and client share the machine, so past the point where they together fill it the"
        f" rates are the machine's, a lower bound for the pod (the clean figure is a pod with"
        f" a core fewer than the machine, the client on the rest)."
    )


def spike_note(trials: list[dict[str, Any]], chosen: int) -> str:
    """The spike is reported, not a criterion: what it would cost to serve it whole."""
    at = next(t for t in trials if t["target_percent"] == chosen)
    if not at["spike_underserved_s"]:
        return "The spike (30 % to 100 % in one second) is served whole at this target too."
    whole = [t for t in trials if not t["spike_underserved_s"]]
    cost = (
        f" serving it whole takes {max(whole, key=lambda t: t['target_percent'])['target_percent']}"
        f" % or less, more pods all day for a 5-minute surge"
        if whole
        else " no candidate serves it whole"
    )
    return (
        f"The spike (30 % to 100 % in one second) is under-served for"
        f" {at['spike_underserved_s']} s at this target, while new pods start:{cost}; the"
        f" scale-up policy and the start-up time decide it more than the target."
    )


def target_table(trials: list[dict[str, Any]], chosen: int, slo_p99_ms: float) -> str:
    """Why the target: every candidate's simulated fleet, the chosen one marked."""
    if not trials:
        return ""
    lines = [
        "",
        "## Why this HPA target",
        "",
        f"Each candidate target sized the fleet and drove it through the simulation above;"
        f" every second's p99 is read off the measured curve at each pod's share of the rate,"
        f" and the CPU the HPA sees off the measured CPU curve (batching makes a request"
        f" cheaper under load, so CPU grows slower than the rate and the HPA reacts less to a"
        f" rise near the knee). {chosen} % is the highest target at which the step staircase"
        f" (jumps of +25 % to +100 % of the load, carried by the running pods for the HPA's"
        f" sync period and the start-up) and the daily curve never leave p99 <="
        f" {slo_p99_ms:g} ms. {spike_note(trials, chosen)}",
        "",
        "| target % | per-pod req/s at target | replicas | under-served s: step | spike | daily"
        " | pod-hours: daily |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in trials:
        mark = "**" if t["target_percent"] == chosen else ""
        lines.append(
            f"| {mark}{t['target_percent']}{mark} | {t['per_pod_rps_at_target']:.0f}"
            f" | {t['min_replicas']}..{t['max_replicas']} | {t['step_underserved_s']}"
            f" | {t['spike_underserved_s']} | {t['daily_underserved_s']}"
            f" | {t['daily_pod_hours']:.1f} |"
        )
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
