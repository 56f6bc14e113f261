"""The simulated HPA against hand-worked cases of the documented algorithm."""

from __future__ import annotations

from typing import Any

from scripts.capacity.fleet import Pod, daily_profile, simulate, spike_profile, step_profile
from scripts.capacity.hpa import (
    Autoscaler,
    HpaSpec,
    Policy,
    Rules,
    metric_replicas,
)


def spec(**changes: Any) -> HpaSpec:
    return HpaSpec(**{"min_replicas": 1, "max_replicas": 50, "target_percent": 50, **changes})


def test_tolerance_band_leaves_replicas_alone() -> None:
    # 4 pods at 54 %, target 50 %: ratio 1.08, inside 1 +/- 0.1 -> keep 4.
    assert metric_replicas(4, [0.54] * 4, 0, 50, 0.1) == 4
    # 46 %: ratio 0.92, inside too.
    assert metric_replicas(4, [0.46] * 4, 0, 50, 0.1) == 4
    # 56 %: ratio 1.12 -> ceil(4 * 1.12) = ceil(4.48) = 5.
    assert metric_replicas(4, [0.56] * 4, 0, 50, 0.1) == 5
    # 30 %: ratio 0.6 -> ceil(4 * 0.6) = ceil(2.4) = 3.
    assert metric_replicas(4, [0.30] * 4, 0, 50, 0.1) == 3


def test_utilization_is_truncated_to_whole_percent_like_the_controller() -> None:
    # 54.99 % reads as 54 %: ratio 1.08, inside the band.
    assert metric_replicas(4, [0.5499] * 4, 0, 50, 0.1) == 4


def test_unready_pods_count_as_idle_on_scale_up() -> None:
    # 2 ready at 100 %, 2 starting; target 50: ratio 2 -> recomputed over 4 pods at
    # 200/4 = 50 % -> ratio 1.0, inside tolerance -> keep 4.
    assert metric_replicas(4, [1.0, 1.0], 2, 50, 0.1) == 4
    # 2 ready at 100 %, 1 starting: floor(200/3) = 66 % -> 1.32 -> ceil(3.96) = 4.
    assert metric_replicas(3, [1.0, 1.0], 1, 50, 0.1) == 4
    # No ready pod has a metric: the HPA cannot compute and does nothing.
    assert metric_replicas(3, [], 3, 50, 0.1) is None


def test_unready_pods_are_ignored_on_scale_down() -> None:
    # 2 ready at 10 %, 2 starting, target 50: ratio 0.2 over the ready ones -> ceil(0.4) = 1.
    assert metric_replicas(4, [0.1, 0.1], 2, 50, 0.1) == 1


def test_scale_up_is_limited_by_the_larger_default_policy() -> None:
    hpa = Autoscaler(spec())
    # 2 pods at 500 %, target 50: raw ceil(2 * 10) = 20. Policies: 100 % -> 4, 4 pods -> 6;
    # selectPolicy Max -> 6.
    assert hpa.sync(0, 2, [5.0] * 2, 0) == 6
    # Same period (5 s later), counted from the period start (6 - 4 added = 2): still 6.
    assert hpa.sync(5, 6, [5.0] * 6, 0) == 6
    # 15 s after the event it has left the period: from 6, 100 % -> 12 beats 4 pods -> 10.
    assert hpa.sync(15, 6, [5.0] * 6, 0) == 12


def test_scale_up_select_min_and_disabled() -> None:
    up = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)), select="Min")
    assert Autoscaler(spec(up=up)).sync(0, 10, [5.0] * 10, 0) == 14
    off = Rules(0, (Policy("Pods", 4, 15),), select="Disabled")
    assert Autoscaler(spec(up=off)).sync(0, 10, [5.0] * 10, 0) == 10


def test_scale_down_stabilization_takes_the_highest_recommendation_in_the_window() -> None:
    hpa = Autoscaler(spec(down=Rules(300, (Policy("Percent", 100, 15),))))
    assert hpa.sync(0, 10, [0.5] * 10, 0) == 10  # at target: recommends 10
    assert hpa.sync(15, 10, [0.3] * 10, 0) == 10  # recommends 6, window max is 10
    assert hpa.sync(30, 10, [0.1] * 10, 0) == 10  # recommends 2, still 10
    # At 300 s the t=0 recommendation (10) has left the (strict) window: max(6, 2, 2) = 6.
    assert hpa.sync(300, 10, [0.1] * 10, 0) == 6
    # At 315 s the t=15 one (6) is gone too: max(2, 2, raw ceil(6 * 0.2) = 2) = 2.
    assert hpa.sync(315, 6, [0.1] * 6, 0) == 2


def test_scale_down_is_limited_by_policy_and_min_replicas() -> None:
    down = Rules(0, (Policy("Pods", 1, 60),))
    hpa = Autoscaler(spec(min_replicas=2, down=down))
    assert hpa.sync(0, 10, [0.05] * 10, 0) == 9  # one pod per minute
    assert hpa.sync(15, 9, [0.05] * 9, 0) == 9  # the minute is not over
    assert hpa.sync(61, 9, [0.05] * 9, 0) == 8
    fast = Autoscaler(spec(min_replicas=2, down=Rules(0, (Policy("Percent", 100, 15),))))
    assert fast.sync(0, 10, [0.01] * 10, 0) == 2  # raw 1, floored at minReplicas


def test_bounds_apply_before_metrics() -> None:
    assert Autoscaler(spec(max_replicas=5)).sync(0, 8, [], 0) == 5
    assert Autoscaler(spec(min_replicas=3)).sync(0, 1, [], 0) == 3


def test_fleet_follows_a_step_and_reports_underservice() -> None:
    pod = Pod(slo_rps=100, max_rps=125, startup_s=20, cpu_per_rps=1 / 125)
    hpa = spec(min_replicas=2, max_replicas=20, target_percent=60)
    out = simulate("step", step_profile(1000, steps=2, step_s=120), pod, hpa)
    # At 1000 req/s the HPA settles where each pod is near 60 %: ceil(1000 / 75) = 14.
    assert out.max_replicas >= 14
    assert out.timeline.desired[-1] < out.max_replicas  # scaled down after the 300 s window
    assert 0 < out.underserved_s < len(out.timeline.t)


def test_enough_warm_pods_are_never_underserved() -> None:
    pod = Pod(slo_rps=100, max_rps=125, startup_s=60, cpu_per_rps=1 / 125)
    hpa = spec(min_replicas=12, max_replicas=20, target_percent=90)
    out = simulate("spike", spike_profile(1000, base_fraction=0.5), pod, hpa)
    assert out.underserved_s == 0 and out.peak_backlog == 0


def test_slow_start_makes_a_spike_underserved_longer() -> None:
    hpa = spec(min_replicas=2, max_replicas=40, target_percent=60)
    fast = simulate("spike", spike_profile(1000), Pod(100, 125, 5, 1 / 125), hpa)
    slow = simulate("spike", spike_profile(1000), Pod(100, 125, 90, 1 / 125), hpa)
    assert slow.underserved_s > fast.underserved_s
    assert slow.peak_backlog > fast.peak_backlog


def test_daily_profile_shape() -> None:
    day = daily_profile(1000, trough_fraction=0.2)
    assert len(day) == 86400
    assert round(day[4 * 3600]) == 200 and round(day[16 * 3600]) == 1000
