"""The cluster runner's logic on a recorded sequence of HPA, Pod and Job objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import Mock

import pytest

from scripts.cluster_loadtest import timeline as ct

EVENTS = json.loads((Path(__file__).parent / "cluster_events.json").read_text())["events"]


def test_replay_builds_the_timeline_of_a_step_load() -> None:
    tl = ct.replay(EVENTS)
    first, last = tl.rows[0], tl.rows[-1]
    assert (first.hpa_current, first.pods_ready, first.pods_total, first.job) == (
        2,
        2,
        2,
        "pending",
    )
    assert last.job == "succeeded" and (last.pods_ready, last.pods_total) == (5, 5)
    # The HPA asked for 3 at 65 s, the new pod was ready at 95 s.
    asked = next(r for r in tl.rows if r.hpa_desired == 3)
    ready = next(r for r in tl.rows if r.pods_ready == 3)
    assert (asked.t, ready.t) == (65, 95)
    assert max(r.cpu_percent or 0 for r in tl.rows) == 117
    # Rows only when something changed: the repeated Job poll at 80 s adds none.
    assert not any(r.t == 80 for r in tl.rows)


def test_verdict_follows_the_job_conditions() -> None:
    assert ct.replay(EVENTS).verdict == ct.Verdict(
        True, True, "Job complete: Locust exited 0, the SLO held"
    )
    failed = copy.deepcopy(EVENTS)
    end = next(e for e in failed if e["kind"] == "job" and e["object"]["status"].get("conditions"))
    end["object"]["status"]["conditions"] = [
        {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        }
    ]
    verdict = ct.replay(failed).verdict
    assert verdict.done and not verdict.passed and verdict.exit_code == 1
    assert "backoff limit" in verdict.reason
    running = [e for e in EVENTS if e["t"] < 100]
    assert not ct.replay(running).verdict.done


def test_terminating_and_deleted_pods_leave_the_ready_count() -> None:
    tl = ct.replay(EVENTS)
    pod = next(e["object"] for e in EVENTS if e["kind"] == "pod")
    gone = copy.deepcopy(pod)
    gone["metadata"]["deletionTimestamp"] = "2026-11-23T21:10:00Z"
    tl.observe(500, "pod", gone)
    assert (tl.rows[-1].pods_ready, tl.rows[-1].pods_total) == (4, 5)
    tl.observe(505, "pod_deleted", {"metadata": {"name": pod["metadata"]["name"]}})
    assert (tl.rows[-1].pods_ready, tl.rows[-1].pods_total) == (4, 4)
    with pytest.raises(ValueError, match="unknown event kind"):
        tl.observe(510, "node", {})


def test_report_table_and_chart(tmp_path: Path) -> None:
    tl = ct.replay(EVENTS)
    md, png = ct.write_report(tl, tmp_path, "cluster-corebound-loadtest-2")
    text = md.read_text()
    assert "Verdict: **PASS**" in text
    assert "Locust: `SLO PASS: requests=7012" in text
    assert "| 65 | 2 | 3 | 97 | 2 / 2 | running |" in text
    assert "Peak replicas 5" in text
    assert "- 65 s: the HPA asked for 3 replicas; 3 pods ready at 95 s (30 s later)" in text
    assert "- 110 s: the HPA asked for 5 replicas; 5 pods ready at 141 s (31 s later)" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hpa_without_metrics_yet() -> None:
    assert ct.hpa_state({"status": {"currentReplicas": 2, "desiredReplicas": 2}}) == (2, 2, None)
    assert ct.job_phase({"status": {}}) == "pending"


class FakeCluster:
    """Answers the runner's few API calls from the recorded events, one poll at a time."""

    def __init__(self, cut_times: list[float]) -> None:
        self.snapshots = []
        for cut in cut_times:
            state: dict = {"pods": {}}
            for e in EVENTS:
                if e["t"] <= cut and e["kind"] in ("hpa", "job"):
                    state[e["kind"]] = e["object"]
                elif e["t"] <= cut and e["kind"] == "pod":
                    state["pods"][e["object"]["metadata"]["name"]] = e["object"]
            self.snapshots.append(state)
        self.poll = -1

    def read_namespaced_horizontal_pod_autoscaler(self, name: str, namespace: str) -> dict:
        self.poll += 1  # the runner reads the HPA first in every poll
        return self.now["hpa"]

    @property
    def now(self) -> dict:
        return self.snapshots[min(self.poll, len(self.snapshots) - 1)]

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> SimpleNamespace:
        if label_selector.startswith("job-name="):
            return SimpleNamespace(
                items=[{"metadata": {"name": "locust-x", "creationTimestamp": "1"}}]
            )
        return SimpleNamespace(items=list(self.now["pods"].values()))

    def read_namespaced_job(self, name: str, namespace: str) -> dict:
        return self.now["job"]

    def list_namespaced_job(self, namespace: str, label_selector: str) -> SimpleNamespace:
        old = {
            "metadata": {
                "name": "corebound-loadtest-1",
                "creationTimestamp": "2026-11-23T20:00:00Z",
            }
        }
        new = {
            "metadata": {
                "name": "corebound-loadtest-2",
                "creationTimestamp": "2026-11-23T21:00:00Z",
            }
        }
        return SimpleNamespace(items=[old, new])

    def read_namespaced_pod_log(self, name: str, namespace: str, tail_lines: int) -> str:
        return "Aggregated ...\nSLO PASS: requests=7012 rps=46.7\n"


def test_runner_follows_the_newest_job_and_exits_with_its_verdict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scripts.cluster_loadtest import cli as runner

    fake = FakeCluster([5, 65, 95, 140, 160])
    monkeypatch.setattr(
        runner.config, "load_incluster_config", Mock(side_effect=runner.config.ConfigException)
    )
    monkeypatch.setattr(runner.config, "load_kube_config", Mock())
    for api in ("BatchV1Api", "CoreV1Api", "AutoscalingV2Api"):
        monkeypatch.setattr(runner.client, api, lambda _api: fake)
    monkeypatch.setattr(runner.time, "sleep", lambda _s: None)

    assert runner.main(["--release", "corebound", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "cluster-corebound-loadtest-2.md").read_text()
    assert "Verdict: **PASS**" in text and "Locust: `SLO PASS: requests=7012" in text
    assert "| 5 / 5 | succeeded |" in text
