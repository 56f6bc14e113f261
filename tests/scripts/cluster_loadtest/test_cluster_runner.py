"""The cluster runner's timeline on a run recorded from the local cluster.

cluster_events.json is what `python -m scripts.cluster_loadtest --record` saw during
tests/cluster/test_autoscaling.py (HPA, service pods, their /metrics snapshots and the master
Job, trimmed to what the timeline reads, and the run's summary from the results ConfigMap);
reports/cluster-corebound.md was written from it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from paths import REPO

from scripts.cluster_loadtest import record
from scripts.cluster_loadtest import timeline as ct

EVENTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "cluster_events.json").read_text()
)["events"]


def test_the_committed_report_is_what_the_recorded_run_gives(tmp_path: Path) -> None:
    md, png = ct.write_report(ct.replay(EVENTS), tmp_path, "cluster-corebound")
    assert md.read_text() == (REPO / "reports" / "cluster-corebound.md").read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_recorded_run_scaled_on_cpu_while_serving() -> None:
    tl = ct.replay(EVENTS)
    assert tl.verdict == ct.Verdict(True, True, "the master Job completed: the SLO held")
    assert tl.rows[0].hpa_current == 1
    assert max(r.hpa_desired or 0 for r in tl.rows) == 3
    assert max(r.pods_ready for r in tl.rows) == 3
    # metrics-server's CPU figure reached the HPA, and the pods' own counters show the load.
    assert any(r.cpu_percent for r in tl.rows)
    assert max(r.rps or 0 for r in tl.rows) > 100
    ups = ct.scale_ups(tl)
    assert [n for _, n, _ in ups] == [2, 3]
    assert all(ready is not None for _, _, ready in ups)
    summary = json.loads(tl.verdict_line)
    assert summary["slo"] == "PASS" and summary["shape"] == "step" and summary["run"]


def test_verdict_follows_the_master_jobs_condition() -> None:
    failed = copy.deepcopy(EVENTS)
    last = next(e for e in reversed(failed) if e["kind"] == "loadtest")
    last["object"]["status"]["conditions"] = [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"},
    ]
    verdict = ct.replay(failed).verdict
    assert verdict.done and not verdict.passed and verdict.exit_code == 1
    assert "SLO was missed" in verdict.reason
    last["object"]["status"]["conditions"][1]["reason"] = "DeadlineExceeded"
    assert ct.replay(failed).verdict.reason == "the master Job failed: DeadlineExceeded"
    end = last["t"]
    assert not ct.replay([e for e in EVENTS if e["t"] < end]).verdict.done
    assert ct.Timeline().verdict.reason == "no master Job seen"


def test_terminating_and_deleted_pods_leave_the_ready_count() -> None:
    tl = ct.replay(EVENTS)
    ready, total = tl.rows[-1].pods_ready, tl.rows[-1].pods_total
    pod = next(e["object"] for e in EVENTS if e["kind"] == "pod")
    gone = copy.deepcopy(pod)
    gone["metadata"]["deletionTimestamp"] = "2026-11-25T01:30:00Z"
    tl.observe(900, "pod", gone)
    assert (tl.rows[-1].pods_ready, tl.rows[-1].pods_total) == (ready - 1, total)
    tl.observe(905, "pod_deleted", {"metadata": {"name": pod["metadata"]["name"]}})
    assert (tl.rows[-1].pods_ready, tl.rows[-1].pods_total) == (ready - 1, total - 1)
    with pytest.raises(ValueError, match="unknown event kind"):
        tl.observe(910, "node", {})


def test_hpa_without_metrics_yet() -> None:
    assert ct.hpa_state({"status": {"currentReplicas": 2, "desiredReplicas": 2}}) == (2, 2, None)
    assert ct.loadtest_phase({"status": {}}) == "pending"
    assert ct.loadtest_phase({"status": {"active": 1}}) == "running"


def test_recording_keeps_only_what_the_timeline_reads() -> None:
    pod = {
        "metadata": {"name": "p", "labels": {"a": "b"}, "uid": "x"},
        "spec": {"containers": []},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "t"}]},
    }  # fmt: skip
    trimmed = record.trim("pod", pod)
    assert trimmed == {
        "metadata": {"name": "p"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert ct.pod_ready(trimmed) == ct.pod_ready(pod)
