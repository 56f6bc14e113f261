"""The cluster load test's logic, without a cluster: recorded objects -> timeline -> report.

The runner polls the API and hands each HPA, Pod and Job it reads (as the JSON the API
returns) to `Timeline.observe`; everything below works the same on a recorded sequence,
which is how the tests drive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the runner may run in CI or a pod
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


@dataclass(frozen=True)
class Row:
    t: float
    hpa_current: int | None
    hpa_desired: int | None
    cpu_percent: int | None
    pods_ready: int
    pods_total: int
    job: str


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


def job_verdict(job: dict[str, Any]) -> Verdict:
    """A Job is over when its Complete or Failed condition is True; Locust's exit code decided."""
    status = job.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return Verdict(True, True, "Job complete: Locust exited 0, the SLO held")
        if c.get("type") == "Failed":
            why = c.get("message") or c.get("reason") or "failed"
            return Verdict(True, False, f"Job failed: {why} (Locust exited non-zero: SLO missed)")
    return Verdict(False, False, "running")


def job_phase(job: dict[str, Any]) -> str:
    verdict = job_verdict(job)
    if verdict.done:
        return "succeeded" if verdict.passed else "failed"
    status = job.get("status") or {}
    return "running" if status.get("active") else "pending"


@dataclass
class Timeline:
    """State after each observation; a row whenever something visible changes."""

    hpa: tuple[int | None, int | None, int | None] = (None, None, None)
    pods: dict[str, bool] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)
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
        elif kind == "job":
            self.job = obj
        elif kind == "log":
            # The Locust pod's one-line SLO verdict, when the runner could read its log.
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
            job=job_phase(self.job) if self.job else "absent",
        )
        # One poll reads several objects at the same t: keep one row per t, the last state.
        if self.rows and self.rows[-1].t == t:
            self.rows.pop()
        if not self.rows or _visible(self.rows[-1]) != _visible(row):
            self.rows.append(row)

    @property
    def verdict(self) -> Verdict:
        return job_verdict(self.job) if self.job else Verdict(False, False, "no Job seen")


def _visible(r: Row) -> tuple[object, ...]:
    return (r.hpa_current, r.hpa_desired, r.cpu_percent, r.pods_ready, r.pods_total, r.job)


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
        if r.hpa_desired is not None and previous is not None and r.hpa_desired > previous:
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
    ]
    if tl.verdict_line:
        rows += ["", f"Locust: `{tl.verdict_line}`"]
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
        "| t (s) | HPA current | HPA desired | CPU % of request | pods ready / total | Job |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    rows += [
        f"| {r.t:.0f} | {_dash(r.hpa_current)} | {_dash(r.hpa_desired)} | {_dash(r.cpu_percent)}"
        f" | {r.pods_ready} / {r.pods_total} | {r.job} |"
        for r in tl.rows
    ]
    return "\n".join(rows) + "\n"


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


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
    right.set_ylabel("CPU %")
    ends = [r.t for r in tl.rows if r.job in ("succeeded", "failed")]
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
