"""The rig's verdicts: each check logged as it happens, and the markdown summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        return bool(ok)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


COLUMNS = (
    "run", "limits", "plan W x T", "/info W x T", "accuracy", "loadtest exit (tight SLO)",
    "requests / p95 ms", "throttled periods", "throttled s", "CPU used (cores)",
    "peak / limit MiB", "OOM", "restarts",
)  # fmt: skip


def row(run: dict) -> list[str]:
    exp, got = run.get("expected", {}), run.get("info_plan", {})
    load, cg, st = run.get("loadtest", {}), run.get("cgroup", {}), run.get("state", {})
    label = run.get("label") or (
        f"{run['model_mib']:.0f} MiB synthetic" if "memory" in run else "default model"
    )
    exits = str(load.get("exit_code", "-"))
    if "loadtest_tight_slo" in run:
        exits += f" ({run['loadtest_tight_slo']['exit_code']})"
    oom = st.get("oom_killed") or st.get("cgroup_oom_kills")
    return [
        label,
        f"{run['cpus']:g} CPU, {run['memory_limit_mib']} MiB",
        f"{exp.get('workers')} x {exp.get('threads')}",
        f"{got.get('workers')} x {got.get('threads')}",
        str(run.get("accuracy", "-")),
        exits,
        f"{load.get('requests', '-')} / {load.get('p95_ms', '-')}",
        f"{cg.get('throttled_periods', '-')} of {cg.get('cpu_periods', '-')}",
        str(cg.get("throttled_s", "-")),
        str(cg.get("cpu_used_cores", "-")),
        f"{cg.get('peak_mib', '-')} / {run['memory_limit_mib']}",
        "-" if not st else ("yes" if oom else "no"),
        str(st.get("restart_count", "-")),
    ]


def markdown(report: Report) -> str:
    d = report.data
    base, builds = d.get("base", {}), d.get("build_seconds", {})
    built = ", ".join(f"{k} {v} s" for k, v in builds.items())
    lines = [
        "# Container end-to-end (podman)",
        "",
        f"Base `{base.get('tag')}` from {base.get('source')} in {base.get('seconds')} s;"
        f" builds: {built}; whole run {d.get('total_s')} s."
        f" Result: **{'PASS' if report.ok else 'FAIL'}**.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + " --- |" * len(COLUMNS),
    ]
    runs = [*d.get("runs", []), *(d[k] for k in ("custom", "synthetic") if d.get(k))]
    lines += ["| " + " | ".join(row(r)) + " |" for r in runs]
    syn = d.get("synthetic", {}).get("memory")
    if syn:
        lines += [
            "",
            f"Synthetic model with 2 workers (MODEL_RUNTIME=numpy: the mapped copy alone):"
            f" peak {syn['peak_mib']} MiB under a"
            f" {syn['limit_mib']} MiB limit. One copy + 2 x worker overhead + headroom ="
            f" {syn['one_copy_estimate_mib']} MiB; two copies would need"
            f" {syn['two_copies_estimate_mib']} MiB. Copies held, measured:"
            f" {syn['copies_measured']} (peak minus the default-model 2-worker peak of"
            f" {syn['baseline_peak_mib']} MiB, over the weights). Mapped file"
            f" {syn['mapped_file_mib']} MiB, anonymous {syn['anon_mib']} MiB.",
        ]
    thr = d.get("throttle_sanity")
    if thr:
        lines += [
            "",
            f"Throttling figures, sanity check: 2 busy processes under `--cpus {thr['cpus']}` were"
            f" throttled in {thr['throttled_periods']} of {thr['cpu_periods']} CFS periods"
            f" ({thr['cpu_used_cores']} cores used).",
        ]
    lines += ["", "| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in report.checks]
    return "\n".join(lines) + "\n"
