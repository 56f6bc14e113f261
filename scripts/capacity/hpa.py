"""The HorizontalPodAutoscaler's documented algorithm (autoscaling/v2, CPU utilization).

Follows the Kubernetes docs ("Algorithm details", "Configurable scaling behavior") and the
controller they describe, one sync at a time:

1. Replica calculator: ratio = mean utilization of ready pods / target. Within the
   tolerance (|1 - ratio| <= 0.1) nothing changes. Otherwise
   desired = ceil(ratio * ready pods). Pods not yet ready are set aside; if the ratio says
   scale up while some are unready, they count as 0 % and the ratio is recomputed; if that
   falls within tolerance or flips direction, nothing changes. No ready pod with a metric:
   the HPA cannot compute and leaves the scale alone (it records no recommendation).
   Simplification: every ready pod has a metric (no "missing metrics" case), and readiness
   is the only CPU-initialization signal.
2. Stabilization: each raw recommendation is stored with its time; the result is the
   current replicas clamped to [min of recommendations in the scale-up window,
   max of recommendations in the scale-down window].
3. Rate policies: relative to the replicas at the start of each policy's period
   (current - added + removed within the period), Pods/Percent proposals, combined by
   selectPolicy (Max = the biggest change, Min = the smallest, Disabled = none), then
   clamped to [minReplicas, maxReplicas].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Policy:
    kind: str  # "Pods" or "Percent"
    value: int
    period_s: float


@dataclass(frozen=True)
class Rules:
    stabilization_s: float
    policies: tuple[Policy, ...]
    select: str = "Max"  # "Max", "Min" or "Disabled"


# The controller's defaults, which the chart also uses: up fast, down slowly.
DEFAULT_UP = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
DEFAULT_DOWN = Rules(300, (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class HpaSpec:
    min_replicas: int
    max_replicas: int
    target_percent: int  # averageUtilization: percent of the CPU request
    tolerance: float = 0.1
    sync_s: float = 15
    up: Rules = DEFAULT_UP
    down: Rules = DEFAULT_DOWN


def utilization_percent(usages: list[float], pods: int) -> int:
    """Mean utilization as the controller computes it: whole percent, truncated."""
    return math.floor(sum(usages) * 100 / pods + 1e-9)


def metric_replicas(
    current: int,
    ready_utilizations: list[float],
    unready: int,
    target_percent: int,
    tolerance: float,
) -> int | None:
    """Step 1, the replica calculator; None when no ready pod reports a metric."""
    if not ready_utilizations:
        return None
    ready = len(ready_utilizations)
    ratio = utilization_percent(ready_utilizations, ready) / target_percent
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready:
        if abs(1.0 - ratio) <= tolerance:
            return current
        return math.ceil(ratio * ready)
    # Unready pods count as idle on a scale-up, so a burst of starting pods damps it.
    new_ratio = utilization_percent(ready_utilizations, ready + unready) / target_percent
    if abs(1.0 - new_ratio) <= tolerance or new_ratio < 1.0:
        return current
    return max(math.ceil(new_ratio * (ready + unready)), current)


@dataclass
class Autoscaler:
    """Steps 2 and 3 with the memory they need: past recommendations and scale events."""

    spec: HpaSpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[tuple[float, int]] = field(default_factory=list)
    down_events: list[tuple[float, int]] = field(default_factory=list)

    def sync(self, now: float, current: int, ready_utilizations: list[float], unready: int) -> int:
        """One reconcile: the replicas the HPA sets at time `now` (seconds)."""
        s = self.spec
        if current > s.max_replicas:
            desired = s.max_replicas
        elif current < s.min_replicas:
            desired = s.min_replicas
        else:
            raw = metric_replicas(
                current, ready_utilizations, unready, s.target_percent, s.tolerance
            )
            if raw is None:
                return current
            desired = self.normalize(now, current, raw)
        self._record_event(now, current, desired)
        return desired

    def normalize(self, now: float, current: int, raw: int) -> int:
        stabilized = self.stabilize(now, current, raw)
        return self.limit_rate(now, current, stabilized)

    def stabilize(self, now: float, current: int, raw: int) -> int:
        up_cutoff = now - self.spec.up.stabilization_s
        down_cutoff = now - self.spec.down.stabilization_s
        up_rec = min([raw] + [r for t, r in self.recommendations if t > up_cutoff])
        down_rec = max([raw] + [r for t, r in self.recommendations if t > down_cutoff])
        keep = now - max(self.spec.up.stabilization_s, self.spec.down.stabilization_s)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > keep]
        self.recommendations.append((now, raw))
        return min(max(current, up_rec), down_rec)

    def limit_rate(self, now: float, current: int, desired: int) -> int:
        s = self.spec
        if desired > current:
            limit = max(self._up_limit(now, current), current)
            return min(desired, limit, s.max_replicas)
        if desired < current:
            limit = min(self._down_limit(now, current), current)
            return max(desired, limit, s.min_replicas)
        return desired

    def _period_start(self, now: float, current: int, period_s: float) -> int:
        added = sum(n for t, n in self.up_events if t > now - period_s)
        removed = sum(n for t, n in self.down_events if t > now - period_s)
        return current - added + removed

    def _up_limit(self, now: float, current: int) -> int:
        rules = self.spec.up
        if rules.select == "Disabled":
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, current, p.period_s)
            if p.kind == "Pods":
                proposals.append(start + p.value)
            else:
                proposals.append(math.ceil(start * (1 + p.value / 100)))
        return min(proposals) if rules.select == "Min" else max(proposals)

    def _down_limit(self, now: float, current: int) -> int:
        rules = self.spec.down
        if rules.select == "Disabled":
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, current, p.period_s)
            if p.kind == "Pods":
                proposals.append(start - p.value)
            else:
                proposals.append(int(start * (1 - p.value / 100)))
        # Max picks the biggest change, which on the way down is the fewest replicas.
        return max(proposals) if rules.select == "Min" else min(proposals)

    def _record_event(self, now: float, current: int, desired: int) -> None:
        longest = max(p.period_s for p in self.spec.up.policies + self.spec.down.policies)
        self.up_events = [(t, n) for t, n in self.up_events if t > now - longest]
        self.down_events = [(t, n) for t, n in self.down_events if t > now - longest]
        if desired > current:
            self.up_events.append((now, desired - current))
        elif desired < current:
            self.down_events.append((now, current - desired))
