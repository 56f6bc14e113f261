"""bench locust-clients without load: the steady window, CPU at the meter's times, what
limited a run, and the medians it reports."""

from __future__ import annotations

import pytest

from scripts.bench.locust_clients import interpolate, limit, steady, summarize, table


def test_the_steady_window_starts_after_the_warm_up_and_ends_before_the_stop() -> None:
    # [time, requests, failures] every second; the first request counted at 103.
    meter = [[100.0 + t, max(0, t - 2) * 1000, 0] for t in range(0, 30)]

    first, last = steady(meter, warmup_s=5, seconds=20)

    assert first == [108.0, 6000, 0]  # 103 + 5
    assert last == [122.0, 20000, 0]  # 103 + 20 - 1


def test_too_short_a_run_has_no_steady_window() -> None:
    with pytest.raises(RuntimeError, match="no steady window"):
        steady([[0.0, 1, 0], [1.0, 2, 0]], warmup_s=5, seconds=6)


def test_cpu_is_interpolated_at_the_meters_times() -> None:
    samples = [(10.0, 1.0), (10.2, 1.2), (10.4, 1.3)]
    assert interpolate(samples, 10.1) == pytest.approx(1.1)
    assert interpolate(samples, 10.3) == pytest.approx(1.25)
    # Past the samples: the last segment's slope carries on.
    assert interpolate(samples, 10.6) == pytest.approx(1.4)


@pytest.mark.parametrize(
    ("client", "server", "says"),
    [(0.58, 0.7, "client"), (0.3, 0.95, "server"), (0.3, 0.5, "neither")],
)
def test_what_limited_a_run(client: float, server: float, says: str) -> None:
    assert limit(client, 0.6, server, 1.0).startswith(says)


def run(rate: float, per_core: float, limited: str = "client") -> dict[str, object]:
    return {"client": "fast", "users": 400, "rps": rate, "client_cores": 0.6,
            "server_cores": 0.7, "rps_per_client_core": per_core, "p50_ms": 50.0,
            "p99_ms": 150.0, "failures": 0, "limit": limited}  # fmt: skip


def test_medians_over_the_rounds_and_the_limit_of_the_median_round() -> None:
    rounds = [run(2300, 3900), run(2400, 4300, "server"), run(2350, 4100)]

    summary = summarize("fast", rounds)

    assert summary["user_class"] == "FastHttpUser"
    assert summary["rps"] == 2350 and summary["rps_per_client_core"] == 4100
    assert summary["limit"] == "client" and summary["rounds"] == rounds
    lines = table([summary])
    assert lines[0].split()[:3] == ["client", "users", "req/s"]
    assert lines[1].split()[:4] == ["FastHttpUser", "400", "2350", "0.60"]
