"""The measured curves (p99 and CPU against rate) and the HPA target the simulation picks."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from scripts.capacity.fit import (
    Measurement,
    Step,
    capacity,
    latency_curve,
    rate_at,
    recommend,
    utilization_curve,
)
from scripts.capacity.fleet import Pod, simulate, step_profile
from scripts.capacity.hpa import HpaSpec, Policy, Rules
from scripts.capacity.target import CANDIDATES, search


def step(users: int, rps: float, p99: float, cores: float, failures: int = 0) -> Step:
    return Step(users, 10, int(rps * 10), failures, rps, p99 / 4, p99 / 2, p99, cores, 0.5)


# Batching makes requests cheaper under load: CPU rises slower than the rate.
MEASURED = Measurement(
    cpu=1.0, workers=1, threads=1, startup_s=1.0, memory_plan_mib=200, memory_peak_mib=100,
    slo_p99_ms=100, max_failure_ratio=0.01,
    steps=[step(5, 100, 10, 0.2), step(10, 200, 20, 0.3), step(20, 400, 60, 0.5),
           step(30, 500, 140, 0.6), step(25, 380, 70, 0.55), step(60, 520, 900, 0.6, 900)],
)  # fmt: skip


def test_the_latency_curve_never_falls_and_stops_before_failures() -> None:
    # 380 req/s measured 70 ms after 400 at 60 ms: noise, the curve keeps 70 from there on.
    assert latency_curve(MEASURED) == ((100, 10), (200, 20), (380, 70), (400, 70), (500, 140))


def test_the_utilization_curve_and_the_rate_at_a_cpu_share() -> None:
    curve = utilization_curve(MEASURED)
    assert curve == ((100, 0.2), (200, 0.3), (380, 0.55), (400, 0.55), (500, 0.6), (520, 0.6))
    assert rate_at(curve, 0.4) == pytest.approx(200 + 180 * 0.1 / 0.25)  # 272 req/s
    assert rate_at(curve, 0.1) == pytest.approx(50)  # from the origin to the first step
    assert rate_at(curve, 0.7) == float("inf")  # never measured that busy


def test_a_pod_reads_p99_and_cpu_off_its_curves() -> None:
    cap = capacity(MEASURED)
    pod = Pod(cap.slo_rps, cap.max_rps, 1.0, 0.0, cap.latency, 100, cap.utilization)
    # 70 ms at 400, 140 at 500: the SLO's 100 ms is crossed at 400 + 100 x 30 / 70 = 443.
    assert pod.within_slo(440) and not pod.within_slo(446)
    assert not pod.within_slo(501)  # past the highest rate measured: unknown, so not
    assert pod.cpu_share(300) == pytest.approx(0.3 + 0.25 * 100 / 180)
    assert pod.cpu_share(10_000) == 0.6
    # Without curves: slo_rps and CPU per request, as before.
    plain = Pod(100, 125, 1, 1 / 125)
    assert plain.within_slo(100) and not plain.within_slo(101)


def test_the_per_pod_rate_at_a_target_comes_from_the_cpu_curve() -> None:
    cap = capacity(MEASURED)
    rec = recommend(cap, peak_rps=4000, target=40)
    assert rec.target_percent == 40
    assert rec.per_pod_rps_at_target == pytest.approx(272)
    assert rec.max_replicas == 15  # ceil(4000 / 272)
    # A target the pod never reached within the SLO: its SLO capacity sizes the fleet.
    assert recommend(cap, peak_rps=4000, target=90).per_pod_rps_at_target == cap.slo_rps


def args(**changes: object) -> argparse.Namespace:
    hpa = {"tolerance": 0.1, "sync_s": 15, "up_window_s": 0, "up_percent": 100, "up_pods": 4,
           "up_period_s": 15, "down_window_s": 300, "down_percent": 50, "down_period_s": 60,
           "metric_window_s": 15, "peak_rps": 4000, "trough_fraction": 0.2}  # fmt: skip
    return argparse.Namespace(**{**hpa, **changes})


def test_the_target_is_the_highest_whose_step_and_daily_runs_meet_the_slo() -> None:
    cap = capacity(MEASURED)
    pod = Pod(cap.slo_rps, cap.max_rps, 1.0, 0.0, cap.latency, 100, cap.utilization)
    # A short staircase and a flat "day" keep the test fast; the rule is the same.
    profiles = {"step": step_profile(4000, steps=4, step_s=120), "spike": [2000.0] * 60,
                "daily": [3000.0] * 600}  # fmt: skip

    chosen, trials = search(cap, pod, profiles, args())

    assert [t.rec.target_percent for t in trials] == list(CANDIDATES)
    assert chosen.underserved() == 0
    higher = [t for t in trials if t.rec.target_percent > chosen.rec.target_percent]
    assert higher and all(t.underserved() > 0 for t in higher)
    # The chosen plan's fleet is the one its row reports.
    row = chosen.row()
    assert row["target_percent"] == chosen.rec.target_percent
    assert row["step_underserved_s"] == 0 and row["daily_underserved_s"] == 0


def test_cpu_growing_slower_than_the_rate_hides_a_jump_from_the_hpa() -> None:
    cap = capacity(MEASURED)
    curved = Pod(cap.slo_rps, cap.max_rps, 1.0, 0.0, cap.latency, 100, cap.utilization)
    # The same pod with CPU in step with the rate, equal at 380 req/s.
    linear = replace(curved, utilization=(), cpu_per_rps=0.55 / 380)
    up = Rules(0, (Policy("Percent", 100, 15),))
    down = Rules(300, (Policy("Percent", 50, 60),))
    hpa = HpaSpec(2, 50, 55, 0.1, 15, up, down)
    # 10 pods at 380 req/s each (55 %), then 1.25 x: 475 each is over the SLO (p99 ~122 ms).
    demand = [3800.0] * 60 + [4750.0] * 60

    seen = simulate("jump", demand, linear, hpa, initial_replicas=10)
    hidden = simulate("jump", demand, curved, hpa, initial_replicas=10)

    # Linear: 69 % reads 1.25 x the target, the HPA adds pods at its next sync.
    assert seen.max_replicas == 13 and 0 < seen.underserved_s <= 16
    # Measured: 475 req/s reads 59 %, inside the tolerance band: no scale-up, all over.
    assert hidden.max_replicas == 10 and hidden.underserved_s == 60
