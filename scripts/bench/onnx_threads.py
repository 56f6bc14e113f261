"""ONNX Runtime's intra-op threads spinning or sleeping while idle: throughput against CPU.

    python -m scripts.bench onnx-threads [--rounds 5] [--burst-s 0.4] [--paced-s 2]
        [--out reports/]

On a ~1 MiB and a ~100 MiB MLP (scripts/bench/onnx_models.py), prepared and packed as the
service opens them (service.inference.onnx_session.open_session), in forked workers:
  one worker, T=2 threads: rows/s for batches of 1, 8 and 64 rows, back to back;
  two workers, T=1 each, running at once: the same, summed;
  paced: one call of one row every 2 ms (every 20 ms on the 100 MiB model, whose call takes
  milliseconds), the CPU the worker burns (process CPU seconds / wall seconds).
Spinning on and off take turns within each round, on the same model and batch, so a load
change on this shared machine hits both; the report gives medians and their ratios. Writes
reports/onnx_threads.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from scripts.bench.onnx_memory import machine
from scripts.bench.onnx_runs import source_model
from scripts.local.service import REPO
from service.inference.onnx_session import open_session, prepare_shared

BATCHES = (1, 8, 64)
PACE_S = {1: 0.002, 100: 0.020}


class Worker:
    """A forked process with one session, running what it is told: bursts or paced calls."""

    def __init__(self, model: Path, threads: int, spinning: bool) -> None:
        command_read, self._commands = os.pipe()
        results, result_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(self._commands)
                os.close(results)
                _serve(model, threads, spinning, command_read, result_write)
                code = 0
            finally:
                os._exit(code)
        os.close(command_read)
        os.close(result_write)
        self._results = os.fdopen(results)
        self.receive()  # loaded and warm

    def send(self, **command: Any) -> None:
        os.write(self._commands, (json.dumps(command) + "\n").encode())

    def receive(self) -> dict[str, Any]:
        line = self._results.readline()
        if not line:
            raise RuntimeError(f"worker {self.pid} died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        self.send(op="exit")
        os.waitpid(self.pid, 0)
        os.close(self._commands)
        self._results.close()


def _serve(model: Path, threads: int, spinning: bool, commands: int, results: int) -> None:
    session = open_session(model, threads, True, spinning=spinning)
    name, width = session.get_inputs()[0].name, session.get_inputs()[0].shape[1]
    rows = {b: np.random.default_rng(b).standard_normal((b, width), np.float32) for b in BATCHES}
    for batch in rows.values():
        session.run(None, {name: batch})
    os.write(results, b"{}\n")
    for line in os.fdopen(commands):
        command = json.loads(line)
        if command["op"] == "exit":
            return
        batch, seconds = rows[command["rows"]], command["seconds"]
        interval = command.get("interval", 0.0)
        calls, cpu, started = 0, time.process_time(), time.perf_counter()
        due = started
        while due < started + seconds:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            session.run(None, {name: batch})
            calls += 1
            due = due + interval if interval else time.perf_counter()
        wall = time.perf_counter() - started
        answer = {"calls": calls, "wall_s": wall, "cpu_s": time.process_time() - cpu}
        os.write(results, (json.dumps(answer) + "\n").encode())


def turns(groups: dict[bool, list[Worker]], rounds: int, **command: Any) -> dict[bool, list[Any]]:
    """Each group (all its workers at once) runs the command in turns, `rounds` times."""
    seen: dict[bool, list[Any]] = {False: [], True: []}
    for i in range(rounds):
        for spinning in (False, True) if i % 2 == 0 else (True, False):
            for worker in groups[spinning]:
                worker.send(**command)
            seen[spinning].append([w.receive() for w in groups[spinning]])
            time.sleep(0.05)  # a spinning pool's last spin ends before the other's turn
    return seen


def summary(seen: dict[bool, list[Any]], rows: int) -> dict[str, Any]:
    """Median rows/s (all workers summed) and CPU cores per worker, and spinning's ratios."""
    out: dict[str, Any] = {}
    for spinning, runs in seen.items():
        rate = [sum(w["calls"] * rows / w["wall_s"] for w in run) for run in runs]
        cores = [statistics.mean(w["cpu_s"] / w["wall_s"] for w in run) for run in runs]
        out["spinning" if spinning else "sleeping"] = {
            "rows_per_s": round(statistics.median(rate), 1),
            "cores_per_worker": round(statistics.median(cores), 3),
        }
    on, off = out["spinning"], out["sleeping"]
    out["throughput_ratio"] = round(on["rows_per_s"] / off["rows_per_s"], 3)
    out["cpu_ratio"] = round(on["cores_per_worker"] / off["cores_per_worker"], 3)
    return out


def measure(model: Path, size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    found = []
    for workers, threads in ((1, 2), (2, 1)):
        groups = {s: [Worker(model, threads, s) for _ in range(workers)] for s in (False, True)}
        try:
            cases = [("burst", b, {"seconds": args.burst_s}) for b in BATCHES]
            cases.append(("paced", 1, {"seconds": args.paced_s, "interval": PACE_S[size]}))
            for kind, rows, timing in cases:
                seen = turns(groups, args.rounds, op=kind, rows=rows, **timing)
                row = {"model_mib": size, "workers": workers, "threads": threads,
                       "kind": kind, "rows": rows, **timing, **summary(seen, rows)}  # fmt: skip
                found.append(row)
                print(
                    f"{size:>4} MiB W={workers} T={threads} {kind:>5} {rows:>2} rows:"
                    f" sleeping {row['sleeping']['rows_per_s']:9.0f} rows/s"
                    f" {row['sleeping']['cores_per_worker']:.2f} cores,"
                    f" spinning {row['spinning']['rows_per_s']:9.0f} rows/s"
                    f" {row['spinning']['cores_per_worker']:.2f} cores"
                    f"  (x{row['throughput_ratio']:.2f} rows/s, x{row['cpu_ratio']:.2f} CPU)",
                    flush=True,
                )
        finally:
            for worker in groups[False] + groups[True]:
                worker.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench onnx-threads")
    parser.add_argument("--sizes", default="1,100", help="MiB of weights (1, 100)")
    parser.add_argument("--rounds", type=int, default=5, help="turns of each setting")
    parser.add_argument("--burst-s", type=float, default=0.4, help="seconds per burst")
    parser.add_argument("--paced-s", type=float, default=2.0, help="seconds per paced run")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)
    import onnxruntime

    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="onnx-threads-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            source, _ = source_model(Path(tmp) / str(size), size)
            rows += measure(prepare_shared(source, Path(tmp) / "cache", True), size, args)
    result = {
        "machine": machine(onnxruntime.__version__),
        "run": {
            "command": " ".join(["python -m scripts.bench onnx-threads", *(argv or [])]),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "rows": rows,
    }
    out = args.out / "onnx_threads.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0
