"""The benchmark's report: targets, ratios, the machine, markdown."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from scripts.bench.load import Row
from service.cgroups import detect_cpu_limit

# What corebound is meant to reach against the other patterns, checked at these points.
TARGET_CONCURRENCY = 32

TARGET_VS_BEST_OTHER = 1.5

TARGET_VS_CEILING = 0.70

TARGET_HEALTHZ_P99_MS = 20.0


def pick(rows: list[Row], name: str, concurrency: int) -> Row | None:
    return next((r for r in rows if r.pattern == name and r.concurrency == concurrency), None)


OTHERS = ("threadpool", "threadpool-blas-default", "loop", "process-pool")


def model_bound(rows: list[Row], compute: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """What c=32 could reach if serving cost nothing beyond the control's HTTP + JSON work.

    Per request the cores pay the control's cost plus one row of the model at batch 32:
    1 / (1 / control req/s + 1 / (cores x rows/s at batch 32, BLAS 1)).
    """
    ceiling = pick(rows, "control", TARGET_CONCURRENCY)
    batch = next((c for c in compute if c["blas_threads"] == 1 and c["batch"] == 32), None)
    if ceiling is None or batch is None:
        return {}
    model_rps = cores * batch["rows_per_s"]
    bound = 1 / (1 / ceiling.rps + 1 / model_rps)
    return {"model_rows_per_s": model_rps, "bound_rps": bound, "share": bound / ceiling.rps}


def targets(rows: list[Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    c = TARGET_CONCURRENCY
    core = pick(rows, "corebound", c)
    if core is None:
        return out
    others = [r for r in (pick(rows, n, c) for n in OTHERS) if r is not None]
    if others:
        best = max(others, key=lambda r: r.rps)
        ratio = core.rps / best.rps
        out.append(
            {
                "target": f"c={c}: req/s >= {TARGET_VS_BEST_OTHER}x best other served pattern",
                "value": f"{ratio:.2f}x ({core.rps:.0f} vs {best.rps:.0f}, {best.pattern})",
                "ratio": ratio,
                "reached": ratio >= TARGET_VS_BEST_OTHER,
            }
        )
    ceiling = pick(rows, "control", c)
    if ceiling is not None:
        ratio = core.rps / ceiling.rps
        out.append(
            {
                "target": f"c={c}: req/s >= {TARGET_VS_CEILING:.0%} of the no-model ceiling",
                "value": f"{ratio:.0%} ({core.rps:.0f} vs {ceiling.rps:.0f})",
                "ratio": ratio,
                "reached": ratio >= TARGET_VS_CEILING,
            }
        )
    mine = [r for r in rows if r.pattern == "corebound"]
    worst = max(mine, key=lambda r: r.healthz_p99_ms)
    out.append(
        {
            "target": f"/healthz p99 <= {TARGET_HEALTHZ_P99_MS:g} ms under load (worst c)",
            "value": f"{worst.healthz_p99_ms:.1f} ms at c={worst.concurrency}",
            "ratio": worst.healthz_p99_ms / TARGET_HEALTHZ_P99_MS,
            "reached": worst.healthz_p99_ms <= TARGET_HEALTHZ_P99_MS
            and worst.healthz_failures == 0,
        }
    )
    one, pool_one = pick(rows, "corebound", 1), pick(rows, "threadpool", 1)
    if one is not None and pool_one is not None:
        out.append(
            {
                "target": "c=1: p50 no worse than the gunicorn `def` pattern",
                "value": f"{one.p50_ms:.2f} ms vs {pool_one.p50_ms:.2f} ms",
                "ratio": one.p50_ms / pool_one.p50_ms,
                "reached": one.p50_ms <= pool_one.p50_ms,
            }
        )
    return out


def machine() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu_model = found.group(1) if found else ""
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "cpus": os.cpu_count(),
        "cpu_limit": detect_cpu_limit(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": [
            f"{p['internal_api']} {p.get('version')} ({p.get('threading_layer')})"
            for p in threadpool_info()
        ],
        "wrk": wrk_version.split(" [", 1)[0] if wrk_version else "",
    }


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN: no sample


def spread(row: Row) -> str:
    if len(row.rps_rounds) < 2:
        return ""
    return " (" + ", ".join(f"{v:.0f}" for v in row.rps_rounds) + ")"


def markdown(result: dict[str, Any], rows: list[Row]) -> str:
    m, run = result["machine"], result["run"]
    lines = [
        "# Benchmark: corebound against the usual serving patterns",
        "",
        "Written by `python -m scripts.bench` (it prints numbers; it is not a timed test).",
        f"Command: `{run['command']}`",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), CPU limit seen by the service "
        f"{m['cpu_limit']:g}; Python {m['python']}, numpy {m['numpy']}, {', '.join(m['blas'])}; "
        f"{m['wrk']}. Load average {run['load_before']:.2f} before, {run['load_after']:.2f} after "
        "(1 min). The load client runs on the same cores as the server, and other work on the "
        "machine competes with both: compare rows of one run, not runs.",
        "",
        f"Each cell: wrk, {run['threads']} thread, {run['duration_s']:g} s, one held-out row per "
        "POST /v1/predict over keep-alive connections, after a warm-up; `/healthz` probed every "
        "~20 ms on a fresh connection by a separate process during the same seconds. "
        "`server cores` / `wrk cores`: CPU time used over wall time. Errors: non-2xx + socket "
        "errors (wrk timeout 10 s). Every served pattern: gunicorn + UvicornWorker (uvloop, "
        f"httptools), {m['cpu_limit']:g} workers unless stated, corebound's own model loader "
        "and JSON codec.",
        "",
    ]
    if run.get("rounds", 1) > 1:
        lines += [
            f"{run['rounds']} rounds (all patterns, then again); each cell is the round with the "
            "median req/s (the upper one of an even count); req/s shows every round's value in "
            "brackets: the spread is the machine's noise.",
            "",
        ]
    lines += ["## Targets (c = 32 unless stated)", "", "| target | measured | reached |"]
    lines += ["| --- | --- | --- |"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {'yes' if t['reached'] else 'no'} |")
    bound = result.get("model_bound")
    if bound:
        lines += [
            "",
            f"The model alone bounds the ceiling ratio: {bound['model_rows_per_s']:.0f} rows/s "
            "on all cores at batch 32 (compute limit below) plus the control's HTTP + JSON "
            f"cost per request allows at most {bound['bound_rps']:.0f} req/s at c=32, "
            f"{bound['share']:.0%} of the ceiling, even if queueing, batching and metrics "
            "cost nothing.",
        ]
    lines += ["", "## Served patterns", ""]
    header = (
        "| pattern | c | req/s | p50 ms | p99 ms | errors | /healthz p50 ms | /healthz p99 ms "
        "| server cores | wrk cores |"
    )
    lines += [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for concurrency in sorted({r.concurrency for r in rows}):
        for r in (r for r in rows if r.concurrency == concurrency):
            health_fail = f" ({r.healthz_failures} failed)" if r.healthz_failures else ""
            lines.append(
                f"| {r.label} | {r.concurrency} | {r.rps:.0f}{spread(r)} | {fmt(r.p50_ms, 2)} "
                f"| {fmt(r.p99_ms)} | {r.errors} | {fmt(r.healthz_p50_ms)} "
                f"| {fmt(r.healthz_p99_ms)}{health_fail} | {r.server_cores:.2f} "
                f"| {r.client_cores:.2f} |"
            )
    lines += ["", "## Ratios to corebound (req/s of corebound / req/s of the pattern)", ""]
    concurrencies = sorted({r.concurrency for r in rows})
    lines.append("| pattern | " + " | ".join(f"c={c}" for c in concurrencies) + " |")
    lines.append("| --- |" + " ---: |" * len(concurrencies))
    names = list(dict.fromkeys(r.pattern for r in rows))
    for name in names:
        if name == "corebound":
            continue
        cells = []
        for c in concurrencies:
            core, other = pick(rows, "corebound", c), pick(rows, name, c)
            cells.append(f"{core.rps / other.rps:.2f}" if core and other and other.rps else "n/a")
        label = next(r.label for r in rows if r.pattern == name)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Compute limit (the model alone, in one process)", ""]
    lines += ["| BLAS threads | batch | ms per call | rows/s |", "| ---: | ---: | ---: | ---: |"]
    for c in result["compute"]:
        lines.append(
            f"| {c['blas_threads']} | {c['batch']} | {c['ms_per_call']:.3f} "
            f"| {c['rows_per_s']:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


def pick_median(cells: list[Row]) -> Row:
    """The round with the median req/s (the upper one of an even count), all rounds noted."""
    row = sorted(cells, key=lambda r: r.rps)[len(cells) // 2]
    row.rps_rounds = [r.rps for r in cells]
    return row
