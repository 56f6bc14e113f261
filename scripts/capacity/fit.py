"""From one pod's measured steps to a plan: capacity, HPA target, replicas, CPU and memory.

The HPA acts only when utilization leaves target x (1 +/- tolerance), so a pod may run at
target x 1.1 indefinitely: the utilization at which p99 met the SLO, divided by 1.1, bounds
the target from above; the HPA simulation (scripts/capacity/target.py) picks it below that.
At the target each pod serves the rate whose CPU reads the target, which sizes the fleet.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Step:
    users: int
    seconds: float
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cores: float  # service CPU used, averaged over the step
    client_cores: float  # Locust's own CPU: near 1.0 means the client, not the pod, limits
    throttled: float = 0.0  # share of CFS periods in which the quota stopped the pod
    machine_busy: float = 0.0  # share of all the machine's CPUs in use (pod, Locust, the rest)

    def within(self, slo_p99_ms: float, max_failure_ratio: float) -> bool:
        ratio = self.failures / self.requests if self.requests else 1.0
        return self.requests > 0 and self.p99_ms <= slo_p99_ms and ratio <= max_failure_ratio


@dataclass(frozen=True)
class Measurement:
    cpu: float
    workers: int
    threads: int
    startup_s: float
    memory_plan_mib: int
    memory_peak_mib: float
    slo_p99_ms: float
    max_failure_ratio: float
    steps: list[Step] = field(default_factory=list)
    # Other work on the machine competes with the pod and Locust: record how busy it was.
    load_average: float = 0.0
    machine_cpus: int = 0
    client: str = "http"  # LOADTEST_CLIENT of the steps (before it was recorded: HttpUser)

    @property
    def client_class(self) -> str:
        return {"fast": "FastHttpUser", "http": "HttpUser"}.get(self.client, self.client)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Measurement:
        return cls(**{**d, "steps": [Step(**s) for s in d["steps"]]})


@dataclass(frozen=True)
class Capacity:
    cpu: float
    slo_rps: float  # highest rate measured with p99 and failures within the SLO
    max_rps: float  # saturation throughput: measured when the SLO was crossed, else from CPU
    cpu_per_request_ms: float
    utilization_at_slo: float
    startup_s: float
    client_bound: bool  # the SLO was never crossed because Locust ran out of CPU first
    memory_mib: int
    knee_bound_by: str = ""  # what stopped the pod at the first step over the SLO
    # The measured (req/s, p99 ms) curve the HPA simulation reads each pod's p99 from.
    latency: tuple[tuple[float, float], ...] = ()
    # The measured (req/s, CPU share of the limit) curve: what the HPA sees at a rate.
    utilization: tuple[tuple[float, float], ...] = ()
    # Requests one Locust user sent per second within the SLO (think time plus latency).
    user_rps: float = 0.0


def utilization_curve(m: Measurement) -> tuple[tuple[float, float], ...]:
    """(req/s, pod CPU / limit) of the steps by rate, never falling as the rate grows."""
    curve: list[tuple[float, float]] = []
    for s in sorted((s for s in m.steps if s.requests and s.cores > 0), key=lambda s: s.rps):
        share = max(min(1.0, s.cores / m.cpu), curve[-1][1] if curve else 0.0)
        if curve and s.rps <= curve[-1][0]:
            curve[-1] = (curve[-1][0], share)
        else:
            curve.append((s.rps, share))
    return tuple(curve)


def rate_at(curve: tuple[tuple[float, float], ...], share: float) -> float:
    """The lowest measured-curve rate at which a pod's CPU reads `share` (inf: never)."""
    below = (0.0, 0.0)
    for rps, u in curve:
        if u >= share:
            return below[0] + (rps - below[0]) * (share - below[1]) / (u - below[1])
        below = (rps, u)
    return math.inf


def latency_curve(m: Measurement) -> tuple[tuple[float, float], ...]:
    """(req/s, p99) of the steps by rate, p99 never falling as the rate grows (a noisy
    step does not make more load look faster), ending before a step over the failure ratio."""
    # A step measured again counts by its better run, as capacity() counts a retry that met
    # the SLO: the other was a neighbour's burst on a shared machine.
    best: dict[int, Step] = {}
    for s in (s for s in m.steps if s.requests):
        if s.users not in best or s.p99_ms < best[s.users].p99_ms:
            best[s.users] = s
    curve: list[tuple[float, float]] = []
    for s in sorted(best.values(), key=lambda s: s.rps):
        if s.failures / s.requests > m.max_failure_ratio:
            break
        p99 = max(s.p99_ms, curve[-1][1] if curve else 0.0)
        if curve and s.rps <= curve[-1][0]:
            curve[-1] = (curve[-1][0], p99)
        else:
            curve.append((s.rps, p99))
    return tuple(curve)


def capacity(m: Measurement) -> Capacity:
    passing = [s for s in m.steps if s.within(m.slo_p99_ms, m.max_failure_ratio)]
    if not passing:
        raise ValueError(f"no step met p99 <= {m.slo_p99_ms:g} ms at {m.cpu:g} CPU: lower the load")
    best = max(passing, key=lambda s: s.rps)
    loaded = [s for s in m.steps if s.requests and s.cores > 0]
    per_request = sorted(s.cores * s.seconds / s.requests for s in loaded)[len(loaded) // 2]
    crossed = len(passing) < len(m.steps)
    over = [s for s in m.steps if not s.within(m.slo_p99_ms, m.max_failure_ratio)]
    return Capacity(
        cpu=m.cpu,
        slo_rps=best.rps,
        # Past the SLO the highest rate seen is the pod's ceiling, whether CPU or something
        # else (GIL, batching) limits it; without a crossing, extrapolate from CPU per request.
        max_rps=max(s.rps for s in m.steps) if crossed else m.cpu / per_request,
        cpu_per_request_ms=per_request * 1000,
        utilization_at_slo=min(1.0, best.cores / m.cpu),
        startup_s=m.startup_s,
        client_bound=not crossed and max(s.client_cores for s in m.steps) > 0.85,
        # Room above the peak seen: page cache, allocator growth, a bigger batch.
        memory_mib=max(m.memory_plan_mib, math.ceil(m.memory_peak_mib * 1.25)),
        knee_bound_by=(
            bound_by(min(over, key=lambda s: s.users), m.cpu, m.machine_cpus) if over else ""
        ),
        latency=latency_curve(m),
        utilization=utilization_curve(m),
        user_rps=sorted(s.rps / s.users for s in passing)[len(passing) // 2],
    )


def bound_by(s: Step, cpu: float, machine_cpus: int) -> str:
    """Why p99 crossed the SLO at this step: the quota, the shared machine, or the service."""
    if s.throttled >= 0.2 or s.cores >= 0.9 * cpu:
        return "CPU quota (the pod used its limit)"
    idle_cores = (1 - s.machine_busy) * machine_cpus
    if s.cores + idle_cores < 0.9 * cpu:
        return (
            "machine (too few idle cores left by Locust and other work for the pod to reach"
            " its quota: a lower bound)"
        )
    return "the pod itself (neither the quota nor the machine was saturated: queueing in the pod)"


@dataclass(frozen=True)
class Recommendation:
    cpu: float
    memory_mib: int
    target_percent: int
    per_pod_rps_at_target: float
    min_replicas: int
    max_replicas: int
    # CPU at the target over the rate there: a linear cost that gives the same per-pod rate
    # (what the chart's loadtest.plan.cpuMsPerRequest sizes its load with).
    cpu_ms_per_request_at_target: float = 0.0


def recommend(
    c: Capacity,
    peak_rps: float,
    trough_fraction: float = 0.2,
    tolerance: float = 0.1,
    target: int | None = None,
) -> Recommendation:
    """The fleet for `target` (scripts/capacity/target.py picks it by simulation); without
    one, the steady-state bound: the whole tolerance band under the SLO, never below 10 %."""
    if target is None:
        target = max(10, min(95, math.floor(c.utilization_at_slo * 100 / (1 + tolerance))))
    # The rate at which a pod's CPU reads `target` (on the measured curve when there is one);
    # never more than it served within the SLO.
    linear = target / 100 * c.cpu / (c.cpu_per_request_ms / 1000)
    per_pod = min(rate_at(c.utilization, target / 100) if c.utilization else linear, c.slo_rps)
    return Recommendation(
        cpu=c.cpu,
        memory_mib=c.memory_mib,
        target_percent=target,
        per_pod_rps_at_target=per_pod,
        # Two for availability (a PDB and a rolling update need a spare), more for the trough.
        min_replicas=max(2, math.ceil(peak_rps * trough_fraction / per_pod)),
        max_replicas=max(2, math.ceil(peak_rps / per_pod)),
        cpu_ms_per_request_at_target=1000 * c.cpu * target / 100 / per_pod,
    )
