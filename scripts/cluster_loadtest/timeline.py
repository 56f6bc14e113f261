"""The cluster load test's logic, without a cluster: recorded objects -> timeline -> report.

The runner polls the API and hands each HPA, service Pod, the master Job and the pods'
served-traffic snapshots to `Timeline.observe`; everything below works the same on a
recorded sequence, which is how the tests drive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the runner may run in CI or a pod
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from scripts.cluster_loadtest.traffic import Snapshot, Traffic


@dataclass(frozen=True)
class Row:
    t: float
    hpa_current: int | None
    hpa_desired: int | None
    cpu_percent: int | None
    pods_ready: int
    pods_total: int
    loadtest: str
    rps: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class Verdict:
    done: bool
    passed: bool
    reason: str

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def hpa_state(hpa: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(currentReplicas, desiredReplicas, current average CPU %) from an autoscaling/v2 HPA."""
    status = hpa.get("status") or {}
    cpu = None
    for metric in status.get("currentMetrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            cpu = (resource.get("current") or {}).get("averageUtilization")
    return status.get("currentReplicas"), status.get("desiredReplicas"), cpu


def pod_ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False  # terminating: endpoints drop it before it exits
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def job_condition(job: dict[str, Any]) -> dict[str, Any] | None:
    """The master Job's final condition (Complete or Failed), None while it runs."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            found: dict[str, Any] = condition
            return found
    return None


def loadtest_verdict(job: dict[str, Any]) -> Verdict:
    """The master Job is over when Complete or Failed; its Locust's exit code is the SLO."""
    condition = job_condition(job)
    if condition is None:
        return Verdict(False, False, "running")
    if condition["type"] == "Complete":
        return Verdict(True, True, "the master Job completed: the SLO held")
    why = condition.get("reason") or "Failed"
    if why == "BackoffLimitExceeded":
        return Verdict(True, False, "the master Job failed: the SLO was missed or the run failed")
    return Verdict(True, False, f"the master Job failed: {why}")


def loadtest_phase(job: dict[str, Any]) -> str:
    condition = job_condition(job)
    if condition is not None:
        return str(condition["type"]).lower()
    return "running" if (job.get("status") or {}).get("active") else "pending"


@dataclass
class Timeline:
    """State after each observation; a row whenever something visible changes."""

    hpa: tuple[int | None, int | None, int | None] = (None, None, None)
    pods: dict[str, bool] = field(default_factory=dict)
    loadtest: dict[str, Any] = field(default_factory=dict)
    traffic: Traffic = field(default_factory=Traffic)
    served: tuple[float | None, float | None] = (None, None)
    rows: list[Row] = field(default_factory=list)
    verdict_line: str = ""

    def observe(self, t: float, kind: str, obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        if kind == "hpa":
            self.hpa = hpa_state(obj)
        elif kind == "pod":
            self.pods[name] = pod_ready(obj)
        elif kind == "pod_deleted":
            self.pods.pop(name, None)
        elif kind == "loadtest":
            self.loadtest = obj
        elif kind == "traffic":
            # Per pod: served requests and the latency histogram (the runner's snapshots).
            snaps = {pod: Snapshot.from_json(s) for pod, s in obj["pods"].items()}
            rps, p99 = self.traffic.observe(t, snaps)
            self.served = (rps, None if p99 is None else p99 * 1000)
        elif kind == "log":
            # The run's JSON summary, from the results ConfigMap.
            self.verdict_line = obj.get("line", "")
            return
        else:
            raise ValueError(f"unknown event kind {kind!r}")
        self._record(t)

    def _record(self, t: float) -> None:
        row = Row(
            t=t,
            hpa_current=self.hpa[0],
            hpa_desired=self.hpa[1],
            cpu_percent=self.hpa[2],
            pods_ready=sum(self.pods.values()),
            pods_total=len(self.pods),
            loadtest=loadtest_phase(self.loadtest) if self.loadtest else "absent",
            rps=self.served[0],
            p99_ms=self.served[1],
        )
        # One poll reads several objects at the same t: keep one row per t, the last state.
        if self.rows and self.rows[-1].t == t:
            self.rows.pop()
        if not self.rows or _visible(self.rows[-1]) != _visible(row):
            self.rows.append(row)

    @property
    def verdict(self) -> Verdict:
        if not self.loadtest:
            return Verdict(False, False, "no master Job seen")
        return loadtest_verdict(self.loadtest)


def _visible(r: Row) -> tuple[object, ...]:
    return (r.hpa_current, r.hpa_desired, r.cpu_percent, r.pods_ready, r.pods_total,
            r.loadtest, r.rps, r.p99_ms)  # fmt: skip


def replay(events: list[dict[str, Any]]) -> Timeline:
    """Feed a recorded sequence of `{"t": s, "kind": ..., "object": {...}}`."""
    timeline = Timeline()
    for e in sorted(events, key=lambda e: e["t"]):
        timeline.observe(e["t"], e["kind"], e["object"])
    return timeline


def scale_ups(tl: Timeline) -> list[tuple[float, int, float | None]]:
    """(when the HPA asked for more, how many, when that many pods were ready or None)."""
    out: list[tuple[float, int, float | None]] = []
    previous = None
    for i, r in enumerate(tl.rows):
        # previous 0: the HPA's first answer before it has metrics, not a scale-up.
        if r.hpa_desired is not None and previous and r.hpa_desired > previous:
            ready = next((x.t for x in tl.rows[i:] if x.pods_ready >= r.hpa_desired), None)
            out.append((r.t, r.hpa_desired, ready))
        previous = r.hpa_desired if r.hpa_desired is not None else previous
    return out


def markdown(tl: Timeline, title: str) -> str:
    v = tl.verdict
    rows = [
        f"# {title}",
        "",
        f"Verdict: **{'PASS' if v.passed else 'FAIL'}** ({v.reason}).",
        "",
        "Made by `python -m scripts.cluster_loadtest --release <release> --namespace <ns>`"
        " (tests/cluster/test_autoscaling.py runs it on the local cluster with the chart values"
        " it lists). A row per change seen at the poll interval (5 s); CPU % is the HPA's view"
        " (metrics-server), req/s and p99 come from the service pods' own /metrics (p99 is a"
        " histogram bucket's upper bound).",
    ]
    if tl.verdict_line:
        rows += ["", f"Summary (results ConfigMap): `{tl.verdict_line}`"]
    peak = max((r.hpa_current or 0 for r in tl.rows), default=0)
    rows += [
        "",
        f"Peak replicas {peak}; {len(tl.rows)} changes observed.",
        "",
    ]
    rows += [
        f"- {t:.0f} s: the HPA asked for {n} replicas; "
        + (f"{n} pods ready at {ready:.0f} s ({ready - t:.0f} s later)" if ready is not None
           else "never all ready")
        for t, n, ready in scale_ups(tl)
    ]  # fmt: skip
    rows += [
        "",
        "| t (s) | HPA current | HPA desired | CPU % of request | pods ready / total"
        " | req/s | p99 ms | load test |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    rows += [
        f"| {r.t:.0f} | {_dash(r.hpa_current)} | {_dash(r.hpa_desired)} | {_dash(r.cpu_percent)}"
        f" | {r.pods_ready} / {r.pods_total} | {_dash(r.rps, '.0f')} | {_dash(r.p99_ms, '.0f')}"
        f" | {r.loadtest} |"
        for r in tl.rows
    ]
    return "\n".join(rows) + "\n"


def _dash(value: float | None, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def chart(tl: Timeline, path: Path, title: str) -> None:
    t = [r.t for r in tl.rows]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.step(t, [r.hpa_current or 0 for r in tl.rows], where="post", label="HPA current")
    ax.step(t, [r.hpa_desired or 0 for r in tl.rows], where="post", ls=":", label="HPA desired")
    ax.step(t, [r.pods_ready for r in tl.rows], where="post", ls="--", label="pods ready")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("replicas")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    right = ax.twinx()
    right.plot(
        t,
        [r.cpu_percent if r.cpu_percent is not None else float("nan") for r in tl.rows],
        color="tab:red",
        marker=".",
        lw=1,
        label="CPU % of request",
    )
    right.plot(
        t, [r.rps if r.rps is not None else float("nan") for r in tl.rows],
        color="tab:green", marker=".", lw=1, label="served req/s",
    )  # fmt: skip
    right.plot(
        t, [r.p99_ms if r.p99_ms is not None else float("nan") for r in tl.rows],
        color="tab:purple", marker="x", lw=1, label="p99 ms (bucket bound)",
    )  # fmt: skip
    right.set_ylabel("CPU % / req/s / p99 ms")
    ends = [r.t for r in tl.rows if r.loadtest in ("complete", "failed")]
    if ends:
        ax.axvline(ends[0], color="grey", lw=1)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set_title(f"{title}: {'PASS' if tl.verdict.passed else 'FAIL'}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(tl: Timeline, out_dir: Path, name: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, png = out_dir / f"{name}.md", out_dir / f"{name}.png"
    md.write_text(markdown(tl, name))
    chart(tl, png, name)
    return md, png
