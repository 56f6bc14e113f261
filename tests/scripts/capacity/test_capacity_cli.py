"""Capacity planner: the math on hand-made measurements, the CLI end to end, one live run."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from scripts.capacity import cli as plan_capacity
from scripts.capacity.fit import Measurement, Step, capacity, recommend


def step(users: int, rps: float, p99: float, cores: float, failures: int = 0) -> Step:
    return Step(
        users=users,
        seconds=10,
        requests=int(rps * 10),
        failures=failures,
        rps=rps,
        p50_ms=p99 / 4,
        p95_ms=p99 / 2,
        p99_ms=p99,
        cores=cores,
        client_cores=0.4,
    )


MEASURED = Measurement(
    cpu=1.0,
    workers=1,
    threads=1,
    startup_s=3.0,
    memory_plan_mib=179,
    memory_peak_mib=160,
    slo_p99_ms=100,
    max_failure_ratio=0.01,
    steps=[
        step(5, 50, 20, 0.2),
        step(10, 100, 40, 0.4),
        step(20, 180, 90, 0.72),
        step(32, 200, 300, 0.8),
    ],
)


def test_capacity_is_the_best_step_within_the_slo() -> None:
    c = capacity(MEASURED)
    assert c.slo_rps == 180
    assert c.cpu_per_request_ms == pytest.approx(4.0)  # 0.4 cores x 10 s / 1000 requests
    assert c.max_rps == 200  # the SLO was crossed: the highest rate seen is the ceiling
    assert c.utilization_at_slo == pytest.approx(0.72)
    assert not c.client_bound
    assert c.memory_mib == 200  # 160 MiB peak x 1.25 beats the 179 MiB plan


def test_recommendation_for_a_peak_rate() -> None:
    r = recommend(capacity(MEASURED), peak_rps=2000, trough_fraction=0.2)
    # 72 % at the SLO / 1.1 tolerance -> 65 %; each pod then serves 0.65 x 250 = 162.5 req/s.
    assert r.target_percent == 65
    assert r.per_pod_rps_at_target == pytest.approx(162.5)
    assert (r.min_replicas, r.max_replicas) == (3, 13)  # ceil(400 / 162.5), ceil(2000 / 162.5)
    assert (r.cpu, r.memory_mib) == (1.0, 200)


def test_no_step_within_the_slo_is_an_error() -> None:
    bad = Measurement.from_dict(MEASURED.as_dict() | {"steps": [asdict(step(5, 50, 500, 0.2))]})
    with pytest.raises(ValueError, match="no step met p99"):
        capacity(bad)


def test_failures_disqualify_a_step() -> None:
    steps = [step(5, 50, 20, 0.2), step(10, 100, 40, 0.4, failures=50)]
    m = Measurement.from_dict(MEASURED.as_dict() | {"steps": [asdict(s) for s in steps]})
    assert capacity(m).slo_rps == 50


def test_plan_without_measuring_writes_json_markdown_and_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--capacity-rps",
        "180",
        "--startup-s",
        "5",
        "--peak-rps",
        "2000",
        "--out",
        str(tmp_path),
    ]
    assert plan_capacity.main(args) == 0
    doc = json.loads((tmp_path / "capacity-1cpu.json").read_text())
    assert doc["recommendation"]["max_replicas"] >= 2000 / 180
    assert [s["profile"] for s in doc["simulation"]] == ["step", "spike", "daily"]
    spike = doc["simulation"][1]
    assert (
        spike["underserved_s"] > 0
        and spike["max_replicas"] == doc["recommendation"]["max_replicas"]
    )
    md = (tmp_path / "capacity-1cpu.md").read_text()
    assert "| HPA averageUtilization |" in md and "## Replica timeline: spike" in md
    assert (tmp_path / "capacity-1cpu.png").read_bytes()[:4] == b"\x89PNG"
    assert "replicas" in capsys.readouterr().out


def test_capacity_rps_needs_startup(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        plan_capacity.main(["--capacity-rps", "100"])
    assert "--startup-s" in capsys.readouterr().err


def test_slower_start_in_a_cluster_leaves_a_spike_underserved_longer(tmp_path: Path) -> None:
    base = ["--capacity-rps", "180", "--startup-s", "2", "--peak-rps", "2000"]
    plan_capacity.main([*base, "--out", str(tmp_path / "local")])
    plan_capacity.main([*base, "--extra-startup-s", "45", "--out", str(tmp_path / "cluster")])

    def spike(run: str) -> dict:
        return json.loads((tmp_path / run / "capacity-1cpu.json").read_text())["simulation"][1]

    assert spike("cluster")["underserved_s"] > spike("local")["underserved_s"]
    assert "pods ready 47.0 s after" in (tmp_path / "cluster" / "capacity-1cpu.md").read_text()


def test_replan_from_a_saved_measurement(tmp_path: Path) -> None:
    saved = tmp_path / "capacity-1cpu.json"
    saved.write_text(json.dumps({"command": "measure it", "measurement": MEASURED.as_dict()}))
    out = tmp_path / "replan"
    assert (
        plan_capacity.main(["--measurement", str(saved), "--peak-rps", "4000", "--out", str(out)])
        == 0
    )
    doc = json.loads((out / "capacity-1cpu.json").read_text())
    assert doc["measured_by"] == "measure it"
    assert doc["capacity"]["slo_rps"] == 180
    # The simulation's target: above 35 % the step staircase pushes pods past the SLO before
    # new ones are ready; at 35 % of 1 CPU and 4 ms per request a pod serves 87.5 req/s.
    rec = doc["recommendation"]
    assert (rec["target_percent"], rec["target_from"]) == (35, "simulation")
    assert rec["max_replicas"] == 46  # ceil(4000 / 87.5)
    trials = {t["target_percent"]: t for t in doc["target_trials"]}
    assert trials[35]["step_underserved_s"] == trials[35]["daily_underserved_s"] == 0
    assert trials[40]["step_underserved_s"] + trials[40]["daily_underserved_s"] > 0
    md = (out / "capacity-1cpu.md").read_text()
    assert "Measured by: `measure it`" in md and "## Why this HPA target" in md
    assert "| **35** | 88 | 10..46 | 0 |" in md


def test_locust_workers_for_the_peak_from_the_measured_rate_per_core(tmp_path: Path) -> None:
    clients = tmp_path / "locust_clients.json"
    rates = [{"client": "fast", "rps_per_client_core": 1000},
             {"client": "http", "rps_per_client_core": 400}]  # fmt: skip
    clients.write_text(json.dumps({"clients": rates}))
    args = ["--capacity-rps", "180", "--startup-s", "2", "--peak-rps", "2000",
            "--target-percent", "60", "--locust-clients", str(clients),
            "--out", str(tmp_path)]  # fmt: skip
    assert plan_capacity.main(args) == 0
    doc = json.loads((tmp_path / "capacity-1cpu.json").read_text())
    # Each worker at most half busy: 2000 / (1000 x 0.5) = 4 workers.
    assert doc["recommendation"]["locust_workers"]["workers"] == 4
    assert doc["recommendation"]["target_from"] == "--target-percent"
    md = (tmp_path / "capacity-1cpu.md").read_text()
    assert "| Locust workers (FastHttpUser, one core each) to send 2000 req/s | 4 |" in md
