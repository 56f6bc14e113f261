"""Load-test logic without Locust: settings, shapes, answer checks, SLO verdict, holdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests import answers, holdout, profiles, slo
from loadtests.settings import Constant, Slo, Spike, Step, Traffic


def test_settings_defaults_match_the_contract() -> None:
    assert Step.from_env({}) == Step(users=10, seconds=30, count=5, spawn_rate=10)
    assert Slo.from_env({}) == Slo(max_failure_ratio=0.01, p95_ms=250, p99_ms=500)
    assert Traffic.from_env({}) == Traffic(weight_v1=3, weight_v2=1, rows=1)


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


def test_v1_answer_checks() -> None:
    good = {"outputs": [[0.1] * 10, [0.1] * 10], "labels": ["3", "4"]}
    assert answers.check_v1(200, good, ["3", "4"]) == answers.Outcome()
    assert answers.check_v1(200, good, ["3", "5"]) == answers.Outcome(wrong=1)
    assert answers.check_v1(503, None, ["3"]).error == "shed: 503 (queue full)"
    assert answers.check_v1(504, None, ["3"]).error == "deadline: 504"
    assert str(answers.check_v1(0, None, ["3"]).error).startswith("no response")
    assert str(answers.check_v1(200, {"labels": ["3"]}, ["3"]).error).startswith("malformed")
    assert answers.check_v1(200, {**good, "labels": [3, 4]}, ["3", "4"]).error
    assert answers.check_v1(200, {**good, "outputs": [[0.1] * 9] * 2}, ["3", "4"]).error
    assert answers.check_v1(200, [], ["3"]).error


def test_v2_body_and_answer_checks() -> None:
    body = answers.v2_body([[1.0, 2.0], [3.0, 4.0]])
    assert body["inputs"][0]["shape"] == [2, 2]
    assert body["inputs"][0]["data"] == [1.0, 2.0, 3.0, 4.0]
    good = {
        "model_name": "digits-mlp",
        "model_version": "1",
        "id": "x",
        "outputs": [
            {"name": "probabilities", "shape": [1, 10], "datatype": "FP32", "data": [0.1] * 10},
            {"name": "label", "shape": [1], "datatype": "BYTES", "data": ["7"]},
        ],
    }
    assert answers.check_v2(200, good, ["7"]) == answers.Outcome()
    assert answers.check_v2(200, good, ["1"]) == answers.Outcome(wrong=1)
    assert answers.check_v2(200, {**good, "model_name": "other"}, ["7"]).error
    assert answers.check_v2(200, {**good, "outputs": good["outputs"][:1]}, ["7"]).error
    assert str(answers.check_v2(503, {"error": "busy"}, ["7"]).error).startswith("shed")


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
