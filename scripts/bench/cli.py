"""corebound against the usual ways of serving a CPU model, side by side in one run.

    python -m scripts.bench [--concurrency 1,8,32,64] [--duration 8]
        [--patterns corebound,threadpool,...] [--corebound-variant MAX_WAIT_MS=1] [--out reports/]

Every pattern runs under real gunicorn with UvicornWorker on the default model, one at a time
on the same machine. wrk POSTs one held-out row per request at each concurrency while a
separate prober process GETs `/healthz` every ~20 ms on a fresh connection (as a kubelet
probe does). Also measured: the model alone in this process at batch 1 and 32 (the compute
limit). Writes `benchmark.md` (tables, ratios against the targets, machine notes) and
`benchmark.json` into `--out`. It prints numbers; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.bench.load import Row, compute_limit, run_load, write_lua
from scripts.bench.patterns import corebound_variant, patterns, serve
from scripts.bench.report import machine, markdown, model_bound, pick_median, targets
from scripts.local.service import REPO
from service.cgroups import detect_cpu_limit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--duration", type=int, default=8, help="seconds per cell (wrk: whole)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds at c=8 per pattern")
    parser.add_argument(
        "--patterns",
        default="corebound,threadpool,threadpool-blas-default,loop,process-pool,control",
    )
    parser.add_argument(
        "--corebound-variant",
        action="append",
        default=[],
        metavar="VAR=VALUE[,...]",
        help="an extra corebound row with these env vars, e.g. MAX_WAIT_MS=1",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=1, help="repeat all; keep the median cell")
    parser.add_argument("--no-compute", action="store_true", help="skip the compute limit")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)

    cores = max(1, int(detect_cpu_limit()))
    known = patterns(cores)
    chosen = [known[name] for name in args.patterns.split(",") if name]
    chosen += [corebound_variant(spec, cores) for spec in args.corebound_variant]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    compute = [] if args.no_compute else compute_limit()
    for c in compute:
        print(f"compute: BLAS {c['blas_threads']} batch {c['batch']}: {c['rows_per_s']:.0f} rows/s")
    cells: dict[tuple[str, int], list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        lua = write_lua(Path(tmp))
        # BLAS left at default oversubscribes the cores (its threads spin), and the load it
        # leaves behind would slow whatever ran next: it runs last, shown in its place.
        order = sorted(chosen, key=lambda p: not p.blas_one)
        for _ in range(args.rounds):
            for pattern in order:
                with serve(pattern) as server:
                    if args.warmup > 0:
                        run_load(server, pattern, lua, 8, args.warmup, args.threads)
                    for concurrency in concurrencies:
                        row = run_load(
                            server, pattern, lua, concurrency, args.duration, args.threads
                        )
                        cells.setdefault((pattern.name, concurrency), []).append(row)
                        print(
                            f"{pattern.name:>24} c={concurrency:<3} {row.rps:7.0f} req/s"
                            f"  p50 {row.p50_ms:7.2f}  p99 {row.p99_ms:7.1f} ms"
                            f"  errors {row.errors}  healthz p99 {row.healthz_p99_ms:6.1f} ms"
                            f"  server {row.server_cores:.2f}  wrk {row.client_cores:.2f} cores"
                            f"  load {row.load_average:.2f}",
                            flush=True,
                        )
    rows = [pick_median(cells[(p.name, c)]) for c in concurrencies for p in chosen]
    command = "python -m scripts.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {
        "machine": machine(),
        "run": {
            "command": command.replace(str(REPO) + "/", "").strip(),
            "duration_s": args.duration,
            "threads": args.threads,
            "rounds": args.rounds,
            "concurrency": concurrencies,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "compute": compute,
        "rows": [{**asdict(r), "errors": r.errors} for r in rows],
        "targets": targets(rows),
        "model_bound": model_bound(rows, compute, cores),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "benchmark.md").write_text(markdown(result, rows))
    for t in result["targets"]:
        print(f"{'reached' if t['reached'] else 'MISSED ':>8}  {t['target']}: {t['value']}")
    print(f"wrote {args.out / 'benchmark.md'} and {args.out / 'benchmark.json'}")
    return 0
