"""scripts.capacity.measure against the real service under a 1-CPU quota."""

from __future__ import annotations

import pytest

from scripts.capacity.measure import measure


def test_measure_one_pod_live(capsys: pytest.CaptureFixture[str]) -> None:
    # A short, bounded run: two or three steps of 3 s against the real service at 1 CPU.
    m = measure(1.0, slo_p99_ms=100, step_s=3, start_users=4, growth=3, max_users=40, budget_s=15)
    out = capsys.readouterr().out
    assert "[1 CPU] ready in" in out and "users:" in out
    assert m.workers == 1 and m.startup_s > 0 and m.memory_peak_mib > 0
    assert m.steps and all(s.requests > 0 for s in m.steps)
    assert all(s.cores > 0 for s in m.steps)
