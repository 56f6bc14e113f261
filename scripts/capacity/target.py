"""The HPA target, picked by simulation: the highest CPU target whose fleet meets the SLO.

For each candidate target the plan is sized (fit.recommend: per-pod rate at the target, min
and max replicas) and the simulated HPA (hpa.py) drives the fleet (fleet.py) through the
profiles, every second's p99 read off the pod's measured latency curve at its share of the
rate. The target is the highest at which the step staircase (jumps of +25 % to +100 % of
the load, held while the HPA reacts and new pods start) and the daily curve are never
under-served. A spike from 30 % to 100 % in one second is under-served at any target a fleet
would run at: it measures the scale-up policy and the start-up time, and is reported, not
optimised. Without a curve (a given capacity) the pod's `slo_rps` is the line instead.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from scripts.capacity.fit import Capacity, Recommendation, recommend
from scripts.capacity.fleet import Outcome, Pod, simulate
from scripts.capacity.hpa import HpaSpec, Policy, Rules

CANDIDATES = tuple(range(20, 96, 5))
STEADY = ("step", "daily")  # the profiles every second of which must meet the SLO


def hpa_spec(args: argparse.Namespace, target: int, min_r: int, max_r: int) -> HpaSpec:
    up = Rules(
        args.up_window_s,
        (
            Policy("Percent", args.up_percent, args.up_period_s),
            Policy("Pods", args.up_pods, args.up_period_s),
        ),
    )
    down = Rules(args.down_window_s, (Policy("Percent", args.down_percent, args.down_period_s),))
    return HpaSpec(min_r, max_r, target, args.tolerance, args.sync_s, up, down)


@dataclass(frozen=True)
class Plan:
    rec: Recommendation
    spec: HpaSpec
    outcomes: list[Outcome]

    def underserved(self, profiles: tuple[str, ...] = STEADY) -> int:
        return sum(o.underserved_s for o in self.outcomes if o.profile in profiles)

    def row(self) -> dict[str, object]:
        """The trial as the report's table shows it."""
        return {
            "target_percent": self.rec.target_percent,
            "per_pod_rps_at_target": round(self.rec.per_pod_rps_at_target, 1),
            "min_replicas": self.rec.min_replicas,
            "max_replicas": self.rec.max_replicas,
            **{f"{o.profile}_underserved_s": o.underserved_s for o in self.outcomes},
            **{f"{o.profile}_pod_hours": round(o.pod_hours, 2) for o in self.outcomes},
        }


def plan(
    cap: Capacity,
    pod: Pod,
    profiles: dict[str, list[float]],
    args: argparse.Namespace,
    target: int | None,
) -> Plan:
    """The fleet sized for `target` (None: fit's steady-state bound) and its simulations."""
    rec = recommend(cap, args.peak_rps, args.trough_fraction, args.tolerance, target)
    spec = hpa_spec(args, rec.target_percent, rec.min_replicas, rec.max_replicas)
    outcomes = [
        # Start where the HPA would have settled for the first second's rate.
        simulate(name, demand, pod, spec, args.metric_window_s,
                 math.ceil(demand[0] / rec.per_pod_rps_at_target))
        for name, demand in profiles.items()
    ]  # fmt: skip
    return Plan(rec, spec, outcomes)


def search(
    cap: Capacity, pod: Pod, profiles: dict[str, list[float]], args: argparse.Namespace
) -> tuple[Plan, list[Plan]]:
    """Every candidate's plan, and the chosen one: the highest target with the STEADY
    profiles never under-served; if none, the fewest such seconds (then the higher)."""
    trials = [plan(cap, pod, profiles, args, t) for t in CANDIDATES]
    chosen = min(trials, key=lambda p: (p.underserved(), -p.rec.target_percent))
    return chosen, trials
