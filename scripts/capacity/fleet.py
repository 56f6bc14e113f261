"""A fleet of pods under a traffic profile, scaled by the simulated HPA, second by second.

Model: each ready pod serves up to `max_rps` (its throughput at 100 % of its CPU limit);
the Service spreads load evenly over ready pods only; what they cannot serve waits in a
queue (in the real service the bounded queue sheds with 503 instead: the backlog here is
the demand that would be shed or late). CPU utilization of a ready pod is the rate it
serves times the measured CPU seconds per request, over its limit. The HPA sees the mean
utilization of the last `metric_window_s` seconds at every sync (metrics-server's
resolution). A new pod serves `startup_s` after the HPA asks for it (scheduling, start,
model load, readiness probe). A second is under-served when the ready pods cannot serve
the arriving rate within the SLO (`slo_rps` each) or a backlog is waiting.
`max_rps` is the measured ceiling, which may come before 100 % CPU (GIL, batching).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from scripts.capacity.hpa import Autoscaler, HpaSpec


@dataclass(frozen=True)
class Pod:
    slo_rps: float  # highest rate one pod serves with p99 within the SLO
    max_rps: float  # its throughput with the CPU limit saturated
    startup_s: float  # asked for -> ready
    cpu_per_rps: float  # CPU utilization (share of the limit) per req/s served by one pod


@dataclass
class Timeline:
    t: list[int] = field(default_factory=list)
    demand_rps: list[float] = field(default_factory=list)
    desired: list[int] = field(default_factory=list)
    ready: list[int] = field(default_factory=list)
    utilization: list[float] = field(default_factory=list)
    backlog: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    profile: str
    underserved_s: int
    peak_backlog: float  # requests waiting
    peak_wait_s: float  # backlog / serving rate at that moment
    max_replicas: int
    pod_hours: float
    timeline: Timeline


def simulate(
    name: str,
    demand: list[float],
    pod: Pod,
    spec: HpaSpec,
    metric_window_s: int = 15,
    initial_replicas: int | None = None,
) -> Outcome:
    """Second by second; the fleet starts warm, by default at minReplicas."""
    hpa = Autoscaler(spec)
    start = min(max(initial_replicas or 0, spec.min_replicas), spec.max_replicas)
    ready_at: list[float] = [0.0] * start
    window: deque[float] = deque(maxlen=metric_window_s)
    backlog = peak_backlog = peak_wait = 0.0
    underserved = 0
    pod_seconds = 0
    tl = Timeline()
    for t, rate in enumerate(demand):
        if t > 0 and t % spec.sync_s == 0:
            ready_now = sum(r <= t for r in ready_at)
            util = sum(window) / len(window) if window else 0.0
            desired = hpa.sync(t, len(ready_at), [util] * ready_now, len(ready_at) - ready_now)
            ready_at = _rescale(ready_at, desired, t + pod.startup_s)
        ready = sum(r <= t for r in ready_at)
        capacity = ready * pod.max_rps
        served = min(backlog + rate, capacity)
        backlog = backlog + rate - served
        util = min(1.0, served / ready * pod.cpu_per_rps) if ready else 0.0
        window.append(util)
        if rate > ready * pod.slo_rps or backlog > 0:
            underserved += 1
        peak_backlog = max(peak_backlog, backlog)
        if backlog > 0:
            peak_wait = max(peak_wait, backlog / capacity if capacity else math.inf)
        pod_seconds += len(ready_at)
        tl.t.append(t)
        tl.demand_rps.append(rate)
        tl.desired.append(len(ready_at))
        tl.ready.append(ready)
        tl.utilization.append(util)
        tl.backlog.append(backlog)
    return Outcome(
        profile=name,
        underserved_s=underserved,
        peak_backlog=peak_backlog,
        peak_wait_s=peak_wait,
        max_replicas=max(tl.desired),
        pod_hours=pod_seconds / 3600,
        timeline=tl,
    )


def _rescale(ready_at: list[float], desired: int, new_ready_at: float) -> list[float]:
    """Add pods that become ready later, or remove the youngest first (as a ReplicaSet does)."""
    if desired >= len(ready_at):
        return ready_at + [new_ready_at] * (desired - len(ready_at))
    return sorted(ready_at)[:desired]


# --- traffic profiles: requests per second for each second --------------------------------


def step_profile(
    peak: float, base_fraction: float = 0.2, steps: int = 4, step_s: int = 300
) -> list[float]:
    """Base for one step, `steps` equal climbs to the peak, hold, then back to base (scale-down)."""
    levels = [base_fraction + (1 - base_fraction) * i / steps for i in range(steps + 1)]
    out: list[float] = []
    for level in [*levels, 1.0, base_fraction, base_fraction]:
        out += [peak * level] * step_s
    return out


def spike_profile(
    peak: float, base_fraction: float = 0.3, at_s: int = 120, spike_s: int = 300, total_s: int = 900
) -> list[float]:
    return [peak if at_s <= t < at_s + spike_s else peak * base_fraction for t in range(total_s)]


def daily_profile(
    peak: float, trough_fraction: float = 0.2, trough_hour: float = 4.0
) -> list[float]:
    """One day at one-second resolution: a smooth curve, lowest at 04:00, highest 12 h later."""
    day = 86400
    low = peak * trough_fraction
    return [
        low + (peak - low) * 0.5 * (1 - math.cos(2 * math.pi * (t / day - trough_hour / 24)))
        for t in range(day)
    ]
