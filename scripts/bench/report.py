"""The benchmark's report: the machine, the tables, markdown (goals: scripts/bench/goals.py)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from threadpoolctl import threadpool_info

from scripts.bench import goals, hotpath
from scripts.bench.goals import pick
from scripts.bench.load import Row
from service.sizing.cgroups import detect_cpu_limit


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
        "onnxruntime": ort.__version__,
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
        f"{m['cpu_limit']:g}; Python {m['python']}, numpy {m['numpy']}, {', '.join(m['blas'])}, "
        f"onnxruntime {m.get('onnxruntime', 'n/a')}; "
        f"{m['wrk']}. Load average {run['load_before']:.2f} before, {run['load_after']:.2f} after "
        "(1 min). The load client runs on the same cores as the server, and other work on the "
        "machine competes with both: compare rows of one run, not runs.",
        "",
        f"Model: {model_line(result)}. "
        f"Each cell: wrk, {run['threads']} thread, {run['duration_s']:g} s, one row per request "
        "(POST /v1/predict unless the pattern says OIP: POST /v2/models/{name}/infer) over "
        "keep-alive connections, after a warm-up; `/healthz` probed every "
        "~20 ms on a fresh connection by a separate process during the same seconds. "
        "`server cores` / `wrk cores`: CPU time used over wall time. Errors: non-2xx + socket "
        "errors (wrk timeout 10 s). Every served pattern: gunicorn + UvicornWorker (uvloop, "
        f"httptools), {m['cpu_limit']:g} workers unless stated, corebound's own model loader "
        "and runtime (ONNX Runtime, weights packed once per process, as many threads as the "
        "pattern gives BLAS) and JSON codec.",
        "",
    ]
    if run.get("rounds", 1) > 1:
        lines += [
            f"{run['rounds']} rounds (all patterns, then again); each cell is the round with the "
            "median req/s (the upper one of an even count); req/s shows every round's value in "
            "brackets: the spread is the machine's noise.",
            "",
        ]
    lines += ["## Goals", "", "| goal | measured | reached |"]
    lines += ["| --- | --- | --- |"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {'yes' if t['reached'] else 'no'} |")
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
    lines += goals.markdown(result, rows)
    lines += profile_section(result)
    lines += ["", "## Compute limit (the model alone, in one process)", ""]
    lines += [
        "By runtime (MODEL_RUNTIME; corebound serves with `onnxruntime`, whose weights are packed"
        " once; numpy's BLAS packs them again on every call) and threads.",
        "",
        "| runtime | threads | batch | ms per call | us per row | rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in result["compute"]:
        lines.append(
            f"| {c.get('runtime', 'numpy')} | {c['blas_threads']} | {c['batch']} "
            f"| {c['ms_per_call']:.3f} | {c['ms_per_call'] * 1000 / c['batch']:.0f} "
            f"| {c['rows_per_s']:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


def model_line(result: dict[str, Any]) -> str:
    model = result.get("model", {})
    if model.get("which") == "wide":
        return f"`{model['name']}`, an MLP 512->2048->2048->2048->10 (float32) made by the run"
    return f"`{model.get('name', 'default')}`, the embedded default model (64 inputs)"


def profile_section(result: dict[str, Any]) -> list[str]:
    profiles = {}
    if result.get("profile_baseline"):
        profiles["before"] = hotpath.from_dict(result["profile_baseline"])
    if result.get("profile"):
        profiles["now"] = hotpath.from_dict(result["profile"])
    if not profiles:
        return []
    lines = ["", "## Profile of a worker at c = 32 (py-spy)", ""]
    lines.append(
        "Samples of one worker's threads, the event loop's by the innermost layer they were in"
        " (scripts/bench/hotpath.py); us/request = share x the server's CPU per request, an"
        " estimate. `before`: the baseline file given with `--profile`, measured from an older"
        " checkout with `python -m scripts.bench hotpath --tree CHECKOUT`."
    )
    source = result.get("profile_baseline", {}).get("source")
    if source:
        lines.append(f"`before`: {source}.")
    return [*lines, "", hotpath.table(profiles)]


def pick_median(cells: list[Row]) -> Row:
    """The round with the median req/s (the upper one of an even count), all rounds noted."""
    row = sorted(cells, key=lambda r: r.rps)[len(cells) // 2]
    row.rps_rounds = [r.rps for r in cells]
    return row
