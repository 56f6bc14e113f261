"""Gunicorn workers pinned to one core each against left to the scheduler, on an exclusive set.

    python -m scripts.bench pinning [--duration 20] [--rounds 4] [--concurrency 32]
        [--warmup 3] [--weight 10] [--out reports/]

Kubernetes' CPU manager `static` policy gives a Guaranteed pod with whole CPUs an exclusive
set of cores: its affinity mask. This runs the real service (gunicorn, the default model) in
a fresh cgroup whose CFS quota is the mask's size, the master on that mask (so the plan gives
one worker per core, BLAS 1 thread), and compares:
  unpinned                   every worker may run on every core of the mask (the default);
  pinned                     each worker on one core of the mask from its fork
                             (scripts/bench/pinned_gunicorn_conf.py);
  ... + neighbour            the same with a busy loop pinned to the mask's last core, in a
                             cgroup of its own: a noisy neighbour on a shared core.
Each cell: a fresh service, a warm-up, then wrk (scripts/bench/load.py: closed loop, fixed
connections, the /healthz prober beside it). Variants take turns within a round and the
order reverses every round (A B ... then ... B A), so a drift of the shared machine's load
hits both. wrk runs on the same cores (there are no others here): its CPU is reported.
The service's, the client's and the neighbour's cgroups get --weight times a default
cgroup's CPU weight: the machine's other work (it is shared) yields to them, as it could
not run on an exclusive set; a round where it still took CPU is kept out of the decision
(scripts/bench/pinning_report.py). Prints
req/s, p50/p99 and the pinned/unpinned ratios; writes pinning.json and pinning.md into
--out. It prints numbers; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.bench.load import holdout_rows, run_load
from scripts.bench.patterns import Pattern, Server
from scripts.bench.pinning_cpu import (
    client_cgroup,
    machine_cores,
    neighbour,
    scheduler_counts,
    set_weight,
    worker_cores,
)
from scripts.bench.pinning_report import VARIANTS, Variant, compare, decide, markdown, summarize
from scripts.bench.report import machine
from scripts.bench.requests import write_lua
from scripts.local.proc import pids_cpu_seconds
from scripts.local.service import REPO, run_service

PINNED_CONFIG = ("--config", "python:scripts.bench.pinned_gunicorn_conf")


def run_cell(
    variant: Variant, mask: list[int], lua: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One variant once: a fresh service, a warm-up, the measured load."""
    pattern = Pattern(variant.name, variant.name, None, len(mask))
    extra = PINNED_CONFIG if variant.pinned else ()
    busy_core = mask[-1] if variant.neighbour else None
    with (
        run_service(cpu_quota=len(mask), wait_workers=len(mask), extra_args=extra) as svc,
        neighbour(busy_core, args.weight) as burner,
    ):
        assert svc.cgroup is not None
        set_weight(svc.cgroup.dirs, args.weight)
        server = Server(svc.url, svc.process.pid)
        if args.warmup > 0:
            run_load(server, pattern, lua, args.concurrency, args.warmup, 1)
        throttled_before = svc.cgroup.stats().cpu()["throttled_periods"]
        counts_before = scheduler_counts(svc)
        burner_before = pids_cpu_seconds([burner.pid]) if burner else 0.0
        before = machine_cores()
        row = run_load(server, pattern, lua, args.concurrency, args.duration, 1)
        after = machine_cores()
        per_s = {k: (after[k] - before[k]) / (after["at"] - before["at"]) for k in after}
        counts = scheduler_counts(svc)
        neighbour_cores = (
            (pids_cpu_seconds([burner.pid]) - burner_before) / args.duration if burner else 0.0
        )
        cell = {
            "variant": variant.name,
            "pinned": variant.pinned,
            "neighbour": variant.neighbour,
            **asdict(row),
            "errors": row.errors,
            "worker_cores": worker_cores(svc),
            "migrations_per_s": (counts["migrations"] - counts_before["migrations"])
            / args.duration,
            "involuntary_switches_per_s": (
                counts["involuntary_switches"] - counts_before["involuntary_switches"]
            )
            / args.duration,
            "throttled_periods": svc.cgroup.stats().cpu()["throttled_periods"] - throttled_before,
            "neighbour_cores": neighbour_cores,
            # Whatever other processes ran on the machine meanwhile (the prober, this process,
            # other work): a cell with much of it, or with CPU stolen by the hypervisor, is noise.
            "other_cores": per_s["tasks"] - row.server_cores - row.client_cores - neighbour_cores,
            "interrupt_cores": per_s["interrupts"],
            "stolen_cores": per_s["stolen"],
        }
    return cell


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench pinning", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per cell")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each cell")
    parser.add_argument("--rounds", type=int, default=4, help="turns of every variant")
    parser.add_argument("--concurrency", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--weight",
        type=int,
        default=10,
        help="CPU weight of the service's, the client's and the neighbour's cgroups, in default"
        " cgroups: the machine's other work yields to them as it could not run on an exclusive"
        " set (1: no priority)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)

    mask = sorted(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    cells: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-pinning-") as tmp, client_cgroup(args.weight):
        lua = write_lua(Path(tmp), "v1", holdout_rows()[:64], "default")
        for i in range(args.rounds):
            for variant in VARIANTS if i % 2 == 0 else reversed(VARIANTS):
                cell = run_cell(variant, mask, lua, args)
                cells.append(cell)
                print(
                    f"round {i + 1} {variant.name:>22}: {cell['rps']:6.0f} req/s"
                    f"  p50 {cell['p50_ms']:6.2f}  p99 {cell['p99_ms']:6.1f} ms"
                    f"  errors {cell['errors']}  server {cell['server_cores']:.2f}"
                    f"  wrk {cell['client_cores']:.2f}  neighbour {cell['neighbour_cores']:.2f}"
                    f"  other {cell['other_cores']:.2f}  irq {cell['interrupt_cores']:.2f}"
                    f"  stolen {cell['stolen_cores']:.2f}"
                    f" cores  migrations {cell['migrations_per_s']:.0f}/s"
                    f"  workers on {' | '.join(cell['worker_cores'])}",
                    flush=True,
                )
    # Every option but --out (where it wrote is no part of what it measured).
    command = (
        f"python -m scripts.bench pinning --duration {args.duration} --warmup {args.warmup}"
        f" --rounds {args.rounds} --concurrency {args.concurrency} --weight {args.weight}"
    )
    result: dict[str, Any] = {
        "machine": machine(),
        "run": {
            "command": command,
            "mask": mask,
            "cpu_quota": len(mask),
            "weight": args.weight,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "variants": summarize(cells),
        "comparisons": compare(cells),
        "cells": cells,
    }
    result["decision"] = decide(result["comparisons"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pinning.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "pinning.md").write_text(markdown(result))
    for comparison in result["comparisons"]:
        if comparison["pairs"]:
            print(
                f"pinned / unpinned{' + neighbour' if comparison['neighbour'] else ''},"
                f" {comparison['rounds']} rounds ({comparison['pairs']}):"
                f" req/s {comparison['rps_ratio']:.3f}  p50 {comparison['p50_ms_ratio']:.3f}"
                f"  p99 {comparison['p99_ms_ratio']:.3f}"
            )
    print(f"decision: {result['decision']['pin']} ({result['decision']['why']})")
    print(f"wrote {args.out / 'pinning.md'} and {args.out / 'pinning.json'}")
    return 0
