"""W workers on one ONNX model: how many copies of its weights each route costs.

    python -m scripts.bench onnx-memory [--sizes 1,100,500] [--workers 2,4] [--out reports/]

Writes inline float32 MLPs of about 1, 100 and 500 MiB into a temporary folder, prepares each
route once (scripts/bench/onnx_models.py: today's inline session, numpy-mapped initializers,
ONNX external data, and service.inference.onnx_session's prepared copy), then forks W workers
into a new memory cgroup that open their sessions at the same moment, shared (prepacking off)
and packed. Reads each worker's USS and PSS (smaps_rollup) and the cgroup's peak
(memory.max_usage_in_bytes), resident anonymous and mapped-file memory. At 100 MiB also: a
graph whose MatMul weights sit behind Transpose nodes at each graph optimization level, the
memmap route without direct buffers, the prepared route without the heap trim, and W=2 under
a memory limit of one copy plus a little per worker. Derives the per-worker session overhead
the memory plan uses (scripts/bench/onnx_runs.py holds the experiments). Writes
reports/onnx_memory.json and prints the table. Needs root (a cgroup v1 memory controller);
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from scripts.bench.onnx_models import ROUTES
from scripts.bench.onnx_runs import (
    THREADS,
    fits,
    largest_weight_mib,
    measure,
    prepared_run,
    row,
    side_studies,
    source_model,
)
from scripts.local.service import REPO


def overhead(runs: list[dict[str, Any]], base: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per worker on the route the service uses, the most over sizes and W: resident beyond
    one copy of the weights and the bare forked workers; held only while loading (peak less
    what stays); and the page cache nothing maps (the kernel drops it before an OOM kill)."""
    found: dict[str, Any] = {}
    for packed in (False, True):
        chosen = [r for r in runs if r["route"] == "prepared" and r["packed"] == packed]
        if not chosen:
            continue
        cases = []
        for r in chosen:
            w, cg = r["workers"], r["cgroup"]
            kept = r["resident_mib"] - base[w]["resident_mib"] - r["model_mib"]
            cases.append({
                "case": f"{r['size_mib']} MiB W={w}",
                "resident_mib": round(kept / w, 1),
                "load_transient_mib": round((cg["peak_mib"] - cg["usage_mib"]) / w, 1),
                "largest_weight_mib": round(largest_weight_mib(r["size_mib"]), 1),
                "unmapped_cache_mib": round(cg["file_mib"] - cg["mapped_file_mib"], 1),
            })  # fmt: skip
        found["packed" if packed else "shared"] = {
            "max_resident_mib": max(c["resident_mib"] for c in cases),
            "max_load_transient_mib": max(c["load_transient_mib"] for c in cases),
            "cases": cases,
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench onnx-memory")
    parser.add_argument("--sizes", default="1,100,500", help="MiB of weights (1, 100, 500)")
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--no-side", action="store_true", help="skip the 100 MiB side studies")
    parser.add_argument("--tmp", type=Path, default=None, help="a folder with disk for ~3 GiB")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)
    import onnxruntime  # before forking: its import is the workers' base, as in the service

    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(w) for w in args.workers.split(",")]
    routes = args.routes.split(",")
    runs: list[dict[str, Any]] = []
    preparations: list[dict[str, Any]] = []
    side: list[dict[str, Any]] = []
    limits: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="onnx-memory-", dir=args.tmp) as tmp:
        base = {w: measure("none", Path(), [], w, False) for w in counts}
        for size in sizes:
            folder = Path(tmp) / f"{size}"
            source, model_mib = source_model(folder / "source", size)
            fields = {"size_mib": size, "model_mib": round(model_mib, 1)}
            for route in routes:
                for packed in (False, True):
                    into = folder / f"{route}-{'packed' if packed else 'shared'}"
                    made = prepared_run(route, source, into, packed)
                    model = made.pop("path")
                    preparations.append({"route": route, **fields, "packed": packed, **made})
                    files = [source, into] if into.exists() else [source]
                    for w in counts:
                        measured = measure(route, model, files, w, packed)
                        runs.append(
                            row(base, route=route, **fields, packed=packed, workers=w, **measured)
                        )
            if size == 100 and not args.no_side:
                side += side_studies(base, folder, source, fields)
                limits += fits(base, folder, source, fields)
            shutil.rmtree(folder)
    result = {
        "machine": machine(onnxruntime.__version__),
        "run": {
            "command": " ".join(["python -m scripts.bench onnx-memory", *(argv or [])]),
            "threads": THREADS,
        },
        "base": {str(w): b for w, b in base.items()},
        "preparations": preparations,
        "runs": runs,
        "side": side,
        "limits": limits,
        "overhead": overhead(runs, base),
    }
    write(args.out / "onnx_memory.json", result)
    return 0


def machine(onnxruntime_version: str) -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime_version,
    }


def write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    for kind, figures in result["overhead"].items():
        print(
            f"session overhead per worker ({kind}): {figures['max_resident_mib']} MiB resident"
            f" beyond one copy of the weights, {figures['max_load_transient_mib']} MiB more"
            " while loading"
        )
    print(f"wrote {path}")
