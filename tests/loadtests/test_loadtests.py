"""Load-test logic without Locust: settings, shapes, SLO verdict, held-out digits (the model,
samples and answer checks: test_model_samples.py, test_answers.py, test_startup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests import holdout, profiles, slo
from loadtests.settings import Constant, Slo, Spike, Step, Target, Traffic


def test_settings_defaults_match_the_contract() -> None:
    assert Step.from_env({}) == Step(users=10, seconds=30, count=5, spawn_rate=10)
    assert Slo.from_env({}) == Slo(max_failure_ratio=0.01, p95_ms=250, p99_ms=500)
    assert Traffic.from_env({}) == Traffic(weight_v1=3, weight_v2=1, rows=1)
    # The model and its rows are learned from the server unless named.
    assert Target.from_env({}) == Target(model_name="", samples_file="")
    assert Target.from_env({"MODEL_NAME": " m ", "SAMPLES_FILE": "s.json"}) == Target("m", "s.json")


def test_settings_read_env_and_name_the_bad_variable() -> None:
    env = {"STEP_USERS": "4", "STEP_SECONDS": "2.5", "STEP_COUNT": "3", "SPAWN_RATE": "100"}
    assert Step.from_env(env) == Step(users=4, seconds=2.5, count=3, spawn_rate=100)
    with pytest.raises(ValueError, match="STEP_USERS"):
        Step.from_env({"STEP_USERS": "many"})
    with pytest.raises(ValueError, match="STEP_COUNT"):
        Step.from_env({"STEP_COUNT": "1.5"})
    with pytest.raises(ValueError, match="SLO_P99_MS"):
        Slo.from_env({"SLO_P99_MS": "-1"})
    with pytest.raises(ValueError, match="WEIGHT_V1_PREDICT"):
        Traffic.from_env(
            {"WEIGHT_V1_PREDICT": "0", "WEIGHT_V2_INFER": "0", "WEIGHT_V2_BINARY": "0"}
        )
    with pytest.raises(ValueError, match="SPIKE_TOTAL_SECONDS"):
        Spike.from_env({"SPIKE_AT_SECONDS": "100", "SPIKE_SECONDS": "30"})


def test_step_shape_climbs_then_stops() -> None:
    s = Step(users=10, seconds=30, count=3, spawn_rate=5)
    assert [profiles.step(t, s) for t in (0, 29.9, 30, 89.9)] == [
        (10, 5),
        (10, 5),
        (20, 5),
        (30, 5),
    ]
    assert profiles.step(90, s) is None


def test_spike_shape_jumps_fast_and_returns() -> None:
    s = Spike(base_users=5, peak_users=50, at_seconds=10, seconds=20, total_seconds=40)
    assert profiles.spike(0, s) == (5, 10)
    assert profiles.spike(10, s) == (50, 50)
    assert profiles.spike(30, s) == (5, 50)
    assert profiles.spike(40, s) is None


def test_constant_shape() -> None:
    s = Constant(users=7, seconds=5, spawn_rate=7)
    assert profiles.constant(4.9, s) == (7, 7)
    assert profiles.constant(5, s) is None


def test_slo_verdict_lines_and_exit_codes() -> None:
    limits = Slo(max_failure_ratio=0.01, p95_ms=250, p99_ms=500)
    ok = slo.evaluate(slo.Totals(1000, 5, 120, 300, rps=50, wrong_labels=20, rows=1000), limits)
    assert ok.passed and ok.exit_code == 0
    assert ok.line.startswith("SLO PASS:") and "p99=300ms (max 500)" in ok.line
    assert "accuracy=98.00%" in ok.line
    bad = slo.evaluate(slo.Totals(1000, 20, 300, 600), limits)
    assert not bad.passed and bad.exit_code == 1
    assert bad.line.endswith("missed: failure ratio, p95, p99")
    assert not slo.evaluate(slo.Totals(0, 0, 0, 0), limits).passed


def test_the_summary_is_found_where_the_pod_log_put_it() -> None:
    # A pod's log as CI once saw it: Locust's stats table (stderr) read after the summary.
    summary = {"slo": "FAIL", "requests": 4468, "p99_ms": 200}
    log = "\n".join(
        [
            "SLO FAIL: requests=4468 ...; missed: p95, p99",
            json.dumps(summary),
            "Response time percentiles (approximated)",
            "         Aggregated        11     15     21     29     41   4468",
            "",
        ]
    )
    assert slo.summary_in(log) == summary
    assert slo.summary_in(log + '\n{"slo": "PASS", "requests"') == summary  # a cut-off line
    assert slo.summary_in("Aggregated 11 15\n{not json}") is None


def test_holdout_file_loads_and_wraps(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"inputs": [[0, 1], [2, 3], [4, 5]], "labels": [1, "2", "3"]}))
    digits = holdout.load(path)
    assert digits.batch(2, 2) == ([[4, 5], [0, 1]], ["3", "1"])
    path.write_text(json.dumps({"inputs": [[0, 1], [2]], "labels": ["1", "2"]}))
    with pytest.raises(ValueError, match="input 1"):
        holdout.load(path)
    with pytest.raises(FileNotFoundError, match=r"scripts\.modelgen train"):
        holdout.load(tmp_path / "missing.json")


def test_shipped_holdout_matches_the_contract() -> None:
    digits = holdout.load()
    assert len(digits.inputs[0]) == 64
    assert set(digits.labels) == {str(d) for d in range(10)}
