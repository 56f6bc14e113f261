"""A fleet of pods under a traffic profile, scaled by the simulated HPA, second by second.

Model: each ready pod serves up to `max_rps` (its throughput at 100 % of its CPU limit);
the Service spreads load evenly over ready pods only; what they cannot serve waits in a
queue (in the real service the bounded queue sheds with 503 instead: the backlog here is
the demand that would be shed or late). CPU utilization of a ready pod is the rate it
serves times the measured CPU seconds per request, over its limit. The HPA sees the mean
utilization of the last `metric_window_s` seconds at every sync (metrics-server's
resolution). A new pod serves `startup_s` after the HPA asks for it (scheduling, start,
model load, readiness probe). A second is under-served when a backlog is waiting or the
ready pods cannot serve the arriving rate within the SLO: with a measured latency curve,
when its p99 at each pod's share of the rate is over the SLO, else above `slo_rps` each.
`max_rps` is the measured ceiling, which may come before 100 % CPU (GIL, batching).
"""

from __future__ import annotations

import bisect
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
    # Measured (req/s, p99 ms) of one pod, rising in both; empty: `slo_rps` is the line.
    latency: tuple[tuple[float, float], ...] = ()
    slo_p99_ms: float = 0.0
    # Measured (req/s, CPU share of the limit), rising in both; empty: `cpu_per_rps` x rate.
    # Batching makes a request cheaper under load: CPU does not grow in step with the rate.
    utilization: tuple[tuple[float, float], ...] = ()

    def cpu_share(self, rps: float) -> float:
        if not self.utilization:
            return min(1.0, rps * self.cpu_per_rps)
        return min(1.0, interpolate(self.utilization, rps))

    def within_slo(self, rps: float) -> bool:
        """Does one pod serve `rps` within the SLO? Between measured rates the p99 is
        interpolated; past the highest measured one it is unknown, so not."""
        if not self.latency:
            return rps <= self.slo_rps
        rates = [r for r, _ in self.latency]
        if rps > rates[-1]:
            return False
        i = bisect.bisect_left(rates, rps)
        if i == 0:
            return self.latency[0][1] <= self.slo_p99_ms
        (r0, p0), (r1, p1) = self.latency[i - 1], self.latency[i]
        return p0 + (p1 - p0) * (rps - r0) / (r1 - r0) <= self.slo_p99_ms


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
        util = pod.cpu_share(served / ready) if ready else 0.0
        window.append(util)
        over = not pod.within_slo(rate / ready) if ready else rate > 0
        if backlog > 0 or over:
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


def interpolate(curve: tuple[tuple[float, float], ...], x: float) -> float:
    """y at `x` on a curve of (x, y) points rising in x: linear between points, from the
    origin below the first, the last y past the last."""
    xs = [p[0] for p in curve]
    i = bisect.bisect_left(xs, x)
    if i >= len(curve):
        return curve[-1][1]
    (x0, y0), (x1, y1) = ((0.0, 0.0), curve[0]) if i == 0 else (curve[i - 1], curve[i])
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1


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
