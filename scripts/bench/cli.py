"""corebound against the usual ways of serving a CPU model, side by side in one run.

    python -m scripts.bench [--concurrency 1,8,32,64] [--duration 8] [--model default|wide]
        [--patterns corebound,threadpool,...] [--corebound-variant MAX_WAIT_MS=1]
        [--profile BASELINE.json] [--out reports/]

Every pattern runs under real gunicorn with UvicornWorker on the same model (the default one,
or `wide`: an MLP 512->2048->2048->2048->10 made here), one at a time on the same machine.
wrk POSTs one row per request at each concurrency (to /v1/predict, or to the Open Inference
Protocol's infer as JSON or binary tensors) while a separate prober process GETs `/healthz`
every ~20 ms on a fresh connection (as a kubelet probe does). Also measured: the model alone
in this process at batch 1 and 32 (the compute limit), corebound on a model that costs nothing
(its own HTTP floor), its batch sizes per cell and, with `--profile`, a py-spy profile of a
worker at c=32. Writes `benchmark.md` (`benchmark-wide.md` for the wide model; tables, the
goals, machine notes) and the JSON beside it into `--out`. It prints numbers; it
asserts nothing.
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

import numpy as np

from scripts.bench import goals, hotpath
from scripts.bench.load import Row, compute_limit, holdout_rows, run_load
from scripts.bench.patterns import Pattern, Server, corebound_variant, patterns, serve
from scripts.bench.report import machine, markdown, pick_median
from scripts.bench.requests import KINDS, write_lua
from scripts.local.service import REPO
from scripts.modelgen.synthetic import make_mlp
from service.settings import DEFAULT_MODEL_DIR
from service.sizing.cgroups import detect_cpu_limit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--duration", type=int, default=8, help="seconds per cell (wrk: whole)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds at c=8 per pattern")
    parser.add_argument(
        "--patterns",
        default="corebound,corebound-floor,corebound-oip-json,corebound-oip-binary,"
        "threadpool,threadpool-blas-default,loop,process-pool,control",
    )
    parser.add_argument(
        "--model",
        choices=("default", "wide"),
        default="default",
        help="wide: an MLP 512->2048->2048->2048->10 made here (rows of 512 random numbers)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="BASELINE.json",
        help="py-spy one corebound worker during its c=32 cell; compare with this baseline"
        " (python -m scripts.bench hotpath --tree OLD_CHECKOUT --out BASELINE.json)",
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
    cells: dict[tuple[str, int], list[Row]] = {}
    profile: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        model_dir, inputs = bench_model(args.model, Path(tmp))
        name = json.loads((model_dir / "model.json").read_text())["name"]
        luas = {kind: write_lua(Path(tmp), kind, inputs[:64], name) for kind in KINDS}
        compute = [] if args.no_compute else compute_limit(model_dir=model_dir, inputs=inputs)
        for c in compute:
            rate = c["rows_per_s"]
            print(
                f"compute: {c['runtime']} threads {c['blas_threads']} batch {c['batch']}:"
                f" {rate:.0f} rows/s"
            )
        # BLAS left at default oversubscribes the cores (its threads spin), and the load it
        # leaves behind would slow whatever ran next: it runs last, shown in its place.
        order = sorted(chosen, key=lambda p: not p.blas_one)
        for _ in range(args.rounds):
            for pattern in order:
                with serve(pattern, model_dir) as server:
                    lua = luas[pattern.kind]
                    if args.warmup > 0:
                        run_load(server, pattern, lua, 8, args.warmup, args.threads)
                    for concurrency in concurrencies:
                        spy = args.profile is not None and pattern.name == "corebound"
                        spy = spy and concurrency == 32 and not profile
                        raw = Path(tmp) / "profile.raw" if spy else None
                        row = cell(server, pattern, lua, concurrency, args, raw)
                        if spy:
                            summary = hotpath.summarize(Path(tmp) / "profile.raw")
                            profile = hotpath.as_dict(summary, goals.cpu_us(row), row.rps)
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
        "model": {"which": args.model, "name": name},
        "rows": [{**asdict(r), "errors": r.errors} for r in rows],
        "targets": goals.goals(rows),
        "machine_limit": [
            m for c in (32, 64) if (m := goals.machine_limit(rows, compute, cores, c))
        ],
        "profile": profile,
        "profile_baseline": json.loads(args.profile.read_text())
        if args.profile is not None and args.profile.exists()
        else {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "benchmark" if args.model == "default" else f"benchmark-{args.model}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(result, rows))
    for t in result["targets"]:
        print(f"{'reached' if t['reached'] else 'MISSED ':>8}  {t['target']}: {t['value']}")
    print(f"wrote {args.out / (stem + '.md')} and {args.out / (stem + '.json')}")
    return 0


WIDE = [512, 2048, 2048, 2048, 10]


def bench_model(which: str, tmp: Path) -> tuple[Path, np.ndarray]:
    """The model every pattern serves, and rows to send it (at least 64)."""
    if which == "default":
        return DEFAULT_MODEL_DIR, holdout_rows()
    make_mlp(WIDE, tmp / "wide", "wide-mlp")
    rows = np.random.default_rng(1).uniform(-1, 1, (64, WIDE[0])).astype(np.float32)
    return tmp / "wide", rows


def cell(
    server: Server,
    pattern: Pattern,
    lua: Path,
    concurrency: int,
    args: argparse.Namespace,
    raw: Path | None,
) -> Row:
    """One load cell; for corebound its batch sizes, and a py-spy profile when `raw` is set."""
    corebound = pattern.app is None
    before = goals.batch_buckets(server.url) if corebound else {}
    worker = hotpath.children(server.pgid)[0] if raw else 0
    spy = hotpath.start(worker, args.duration - 1, raw) if raw else None
    row = run_load(server, pattern, lua, concurrency, args.duration, args.threads)
    if spy is not None:
        spy.wait()
    if corebound:
        row.batch_rows = goals.bucket_delta(goals.batch_buckets(server.url), before)
    return row
