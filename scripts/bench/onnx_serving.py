"""Issue 18: exported models served at c=32 beside what onnxruntime computes in-process on the
same cores at the batch sizes the service reached. served / in-process is the ratio; the rest
of the way to 1 is the serving overhead.

    python -m scripts.bench onnx-serving [--duration 10] [--concurrency 32] [--rounds 3]
        [--models logistic,forest,ridge,two-inputs] [--out reports/onnx_serving.json]

Each model is fit and exported here with scripts.convert's functions, as tests/onnx_models.py
makes its four (scripts import nothing from tests/). Per model: the real service in a 2-CPU
cgroup (its own plan: 2 workers, 1 intra-op thread each), wrk at c=32 sending one-row OIP JSON
infers (every graph input by name), after a warm-up. `corebound_batch_rows` over the cell
gives the mean rows per model call. Then, in the same cgroup with the service idle, 2
processes each run the session the workers run (the same prepared file, packing, threads) on
batches averaging exactly that size. The two alternate `--rounds` times so both see the same
machine noise; medians are written and printed. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from scripts.bench.load import Row, run_load
from scripts.bench.patterns import Pattern, Server
from scripts.bench.report import machine
from scripts.bench.requests import LUA, _lua_string
from scripts.local.cgroup import Cgroup
from scripts.local.service import REPO, run_service

SAMPLE_ROWS, CPUS = 64, 2
DATATYPES = {"float32": "FP32", "float64": "FP64", "int64": "INT64"}


def build(name: str, directory: Path) -> dict[str, np.ndarray]:
    """`directory`/model.onnx from the converters; SAMPLE_ROWS rows per input to send it."""
    from scripts.convert import examples
    from scripts.convert.check import feeds_for
    from scripts.convert.export import to_onnx, write_model_dir

    model, inputs, x, _ = examples.fitted(name)
    write_model_dir(to_onnx(model, inputs), directory)
    return feeds_for(examples.sample(x, SAMPLE_ROWS), inputs)


def infer_body(feeds: dict[str, np.ndarray], row: int) -> bytes:
    """One row of every input, as an OIP JSON infer request."""
    tensors = [
        {"name": name, "shape": [1, values.shape[1]], "datatype": DATATYPES[values.dtype.name],
         "data": values[row].tolist()}
        for name, values in feeds.items()
    ]  # fmt: skip
    return json.dumps({"inputs": tensors}).encode()


def write_lua(directory: Path, name: str, feeds: dict[str, np.ndarray]) -> Path:
    """The wrk script (scripts/bench/requests.py's), cycling through one body per sample row."""
    rows = len(next(iter(feeds.values())))
    bodies = ",".join(_lua_string(infer_body(feeds, i)) for i in range(rows))
    path, headers = f"/v2/models/{name}/infer", '{["Content-Type"] = "application/json"}'
    out = directory / f"{name}.lua"
    out.write_text(LUA % {"bodies": bodies, "path": path, "headers": headers})
    return out


def batch_counters(metrics_text: str) -> dict[str, float]:
    """Cumulative rows, model calls and model seconds from /metrics (every worker summed)."""
    wanted = {"corebound_batch_rows_sum": "rows", "corebound_batch_rows_count": "calls",
              "corebound_inference_seconds_sum": "model_s"}  # fmt: skip
    found = dict.fromkeys(wanted.values(), 0.0)
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            if s.name in wanted:
                found[wanted[s.name]] += s.value
    return found


def batch_sizes(mean: float, calls: int = 100) -> list[int]:
    """`calls` sizes of floor(mean) or ceil(mean), spread evenly, averaging `mean`."""
    low, frac = int(mean), mean - int(mean)
    return [low + int((i + 1) * frac) - int(i * frac) for i in range(calls)]


def _run_session(job: dict[str, Any], cgroup: Cgroup | None, barrier: Any, results: Any) -> None:
    """In a spawned process: enter the cgroup, open the session as a worker does, run."""
    from service.inference.onnx_session import open_session

    if cgroup is not None:
        cgroup.enter()
    session = open_session(job["model"], job["threads"], job["packed"], job["cache_dir"])
    feeds, offset, calls = job["feeds"], 0, []
    for size in batch_sizes(job["mean_batch"]):
        index = np.arange(offset, offset + size) % SAMPLE_ROWS
        calls.append({name: values[index] for name, values in feeds.items()})
        offset += size
    for batch in calls * 5:  # warm: the arena grows to every batch shape
        session.run(None, batch)
    barrier.wait()
    rows, count = 0, 0
    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + job["seconds"]
    while time.perf_counter() < deadline:
        batch = calls[count % len(calls)]
        session.run(None, batch)
        rows += len(next(iter(batch.values())))
        count += 1
    wall = time.perf_counter() - started
    results.put({"rows": rows, "calls": count, "wall": wall, "cpu": time.process_time() - cpu})


def in_process(job: dict[str, Any], cgroup: Cgroup | None, processes: int) -> dict[str, float]:
    """`processes` sessions at once, each on one process; rows/s summed."""
    ctx = mp.get_context("spawn")  # a clean interpreter, as a worker: no forked ORT state
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_run_session, args=(job, cgroup, barrier, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    each = [results.get(timeout=job["seconds"] + 120) for _ in procs]
    for p in procs:
        p.join()
    return {
        "rows_per_s": sum(e["rows"] / e["wall"] for e in each),
        "ms_per_call": statistics.mean(e["wall"] / e["calls"] * 1000 for e in each),
        "cores": sum(e["cpu"] / e["wall"] for e in each),
    }


def served(server: Server, pattern: Pattern, lua: Path, concurrency: int, seconds: int) -> Row:
    before = batch_counters(httpx.get(server.url + "/metrics").text)
    row = run_load(server, pattern, lua, concurrency, seconds, 1)
    after = batch_counters(httpx.get(server.url + "/metrics").text)
    row.batch_rows = {k: after[k] - before[k] for k in after}  # the cell's own counters
    return row


def round_result(row: Row, inproc: dict[str, float], seconds: int) -> dict[str, Any]:
    """One served cell and the in-process run beside it."""
    delta = row.batch_rows
    calls = delta["calls"] or float("nan")
    # CPU per row on each side: the ratio again, less sensitive to what else the cores run.
    server_us = row.server_cores / row.rps * 1e6
    inproc_us = inproc["cores"] / inproc["rows_per_s"] * 1e6
    return {
        "served_rps": row.rps, "p50_ms": row.p50_ms, "p99_ms": row.p99_ms,
        "errors": row.errors, "server_cores": row.server_cores, "wrk_cores": row.client_cores,
        "mean_batch_rows": delta["rows"] / calls,
        "service_ms_per_call": delta["model_s"] / calls * 1000,
        "model_cores": delta["model_s"] / seconds,
        "inprocess_rows_per_s": inproc["rows_per_s"],
        "inprocess_ms_per_call": inproc["ms_per_call"], "inprocess_cores": inproc["cores"],
        "ratio": row.rps / inproc["rows_per_s"], "server_us_per_request": server_us,
        "inprocess_us_per_row": inproc_us, "cpu_ratio": inproc_us / server_us,
        "load_average": row.load_average,
    }  # fmt: skip


def summarize(name: str, info: dict[str, Any], rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of every figure (the ratio's median too: each round's pair saw
    the same moment of the machine); the rounds kept as run."""
    medians = {k: round(statistics.median(r[k] for r in rounds), 4) for k in rounds[0]}
    return {"model": name, **info, **medians, "rounds": rounds}


# (title, key, format) of the printed table's columns.
COLUMNS = (("model", "model", "<11"), ("weights", "weights", ">8"),
           ("batch", "mean_batch_rows", ">7.2f"), ("served/s", "served_rps", ">10.0f"),
           ("p50 ms", "p50_ms", ">8.2f"), ("p99 ms", "p99_ms", ">8.1f"),
           ("in-proc rows/s", "inprocess_rows_per_s", ">16.0f"), ("ratio", "ratio", ">8.3f"),
           ("srv cores", "server_cores", ">10.2f"), ("model cores", "model_cores", ">12.2f"),
           ("wrk cores", "wrk_cores", ">10.2f"), ("srv us/req", "server_us_per_request", ">11.0f"),
           ("in-proc us/row", "inprocess_us_per_row", ">15.2f"),
           ("cpu ratio", "cpu_ratio", ">10.3f"))  # fmt: skip


def table(models: list[dict[str, Any]]) -> list[str]:
    header = "".join(f"{title:{spec.split('.')[0]}}" for title, _, spec in COLUMNS)
    return [header] + ["".join(f"{m[key]:{spec}}" for _, key, spec in COLUMNS) for m in models]


def measure(name: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    feeds = build(name, tmp / name)
    lua = write_lua(tmp, name, feeds)
    env = {"MODEL_DIR": str(tmp / name), "MODEL_CACHE_DIR": str(tmp / "cache")}
    with run_service(env, cpu_quota=CPUS, wait_workers=CPUS) as svc:
        info = httpx.get(svc.url + "/info").json()
        plan, workers = info["plan"], info["plan"]["workers"]
        server, pattern = Server(svc.url, svc.process.pid), Pattern(name, name, None, workers)
        run_load(server, pattern, lua, args.concurrency, args.warmup, 1)
        job = {"model": tmp / name / "model.onnx", "threads": plan["threads"],
               "packed": info["model"]["weights"] == "packed", "cache_dir": tmp / "cache",
               "feeds": feeds, "seconds": args.duration}  # fmt: skip
        rounds = []
        for _ in range(args.rounds):
            row = served(server, pattern, lua, args.concurrency, args.duration)
            mean = row.batch_rows["rows"] / max(1.0, row.batch_rows["calls"])
            inproc = in_process({**job, "mean_batch": max(1.0, mean)}, svc.cgroup, workers)
            rounds.append(round_result(row, inproc, args.duration))
            print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in rounds[-1].items()))
    described = {"weights": info["model"]["weights"], "workers": workers,
                 "threads": plan["threads"], "inputs": info["model"]["inputs"]}  # fmt: skip
    return summarize(name, described, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench onnx-serving")
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell, each side")
    parser.add_argument("--warmup", type=int, default=3, help="seconds at c before the rounds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="served/in-process pairs")
    parser.add_argument("--models", default="logistic,forest,ridge,two-inputs")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "onnx_serving.json")
    args = parser.parse_args(argv)
    if reason := Cgroup.unavailable_reason():
        print(f"onnx-serving needs a CPU cgroup: {reason}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-onnx-serving-") as tmp:
        models = [measure(name, Path(tmp), args) for name in args.models.split(",") if name]
    given = " ".join(sys.argv[2:] if argv is None else argv).replace(str(REPO) + "/", "")
    command = f"python -m scripts.bench onnx-serving {given}"
    run = {"command": command.strip(), "duration_s": args.duration, "warmup_s": args.warmup,
           "rounds": args.rounds, "concurrency": args.concurrency, "cpu_quota": CPUS,
           "load_before": load_before, "load_after": os.getloadavg()}  # fmt: skip
    report = {"machine": machine(), "run": run, "note": NOTE, "models": models}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(table(models)))
    print(f"wrote {args.out}")
    return 0


NOTE = (
    "ratio = served req/s (one row per request) / in-process rows/s at the mean batch reached,"
    " both on the same 2-CPU cgroup; every figure is its own median over the alternating rounds"
    " (the ratio's is of each round's ratio). wrk and the /healthz prober run outside the"
    " cgroup on the same cores: the service does not get 2 whole cores"
    " (server and wrk cores). model cores: the wall time of the workers' model calls"
    " (corebound_inference_seconds: session.run and taking the GIL back) per second; the rest"
    " of the server cores is HTTP, JSON, batching and hand-off. The machine's 2 cores are"
    " shared with other work (run.load_before/after)."
)
