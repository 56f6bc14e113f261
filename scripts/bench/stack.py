"""The service's own per-request cost in process: the ASGI stack on the floor model, no HTTP.

    python -m scripts.bench stack
    python -m scripts.bench stack --tree OLD_CHECKOUT --out reports/stack.json

With `--tree`, the other checkout's stack is measured too, in turns with this one in one
run (its own `python -m scripts.bench stack`, in a process of its own), and the ratios
written; both measure with the same requests, so the numbers compare.

Calls the app as uvicorn would (scope, receive, send) on uvloop, one request at a time and
32 at once, with the floor model (scripts/bench/floor.py: the model costs nothing), so what
is left is routing, middleware, decoding, the hand-off to the inference thread and back,
metrics and encoding. Prints microseconds per request (the best of 7 runs: the machine is
shared); asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from service.settings import DEFAULT_MODEL_DIR

CASES = (("GET /healthz", "GET", "/healthz", 1), ("POST /v1/predict", "POST", "/v1/predict", 1),
         ("POST /v1/predict", "POST", "/v1/predict", 32))  # fmt: skip


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip


async def _one(app: Any, method: str, path: str, body: bytes) -> int:
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the response is built
        return {"type": "http.disconnect"}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(method, path, body), receive, send)
    return status


async def measure(requests: int, runs: int) -> list[tuple[str, int, float]]:
    from service.app import create_app  # after MODEL_CLASS is set

    app = create_app()
    width = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())["input_dim"]
    body = json.dumps({"inputs": [[0.5] * width]}).encode()
    results = []
    async with app.router.lifespan_context(app):
        for label, method, path, concurrency in CASES:
            payload = body if method == "POST" else b""
            best = float("inf")
            for _ in range(runs):
                done, started = 0, time.perf_counter()
                while done < requests:
                    calls = (_one(app, method, path, payload) for _ in range(concurrency))
                    statuses = await asyncio.gather(*calls)
                    if any(s != 200 for s in statuses):
                        raise RuntimeError(f"{label}: got {statuses}")
                    done += concurrency
                best = min(best, (time.perf_counter() - started) / done * 1e6)
            results.append((label, concurrency, best))
    return results


LINE = re.compile(r"^(?P<label>.+?)\s+c=(?P<c>\d+)\s+(?P<us>[\d.]+) us/request$")


def measure_tree(tree: Path, requests: int, runs: int) -> dict[tuple[str, int], float]:
    """Another checkout's stack, by its own command (its code, this interpreter)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("MODEL_CLASS", None)
    command = [sys.executable, "-m", "scripts.bench", "stack"]
    command += ["--requests", str(requests), "--runs", str(runs)]
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            found[(m["label"], int(m["c"]))] = float(m["us"])
    return found


def compare(tree: Path, requests: int, runs: int, rounds: int) -> list[dict[str, Any]]:
    """Both stacks in turns, `rounds` times each; the best of each cell."""
    here: dict[tuple[str, int], float] = {}
    there: dict[tuple[str, int], float] = {}
    for _ in range(rounds):
        for label, concurrency, us in uvloop.run(measure(requests, runs)):
            key = (label, concurrency)
            here[key] = min(us, here.get(key, us))
        for key, us in measure_tree(tree, requests, runs).items():
            there[key] = min(us, there.get(key, us))
    return [
        {
            "case": label,
            "concurrency": concurrency,
            "us_per_request": round(us, 1),
            "baseline_us_per_request": round(there[(label, concurrency)], 1),
            "ratio": round(us / there[(label, concurrency)], 2),
        }
        for (label, concurrency), us in here.items()
        if (label, concurrency) in there
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench stack")
    parser.add_argument("--requests", type=int, default=2000, help="per run")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tree", type=Path, default=None, help="a checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="with --tree: turns each")
    parser.add_argument("--out", type=Path, default=None, help="with --tree: the JSON report")
    args = parser.parse_args(argv)
    os.environ["MODEL_CLASS"] = "scripts.bench.floor:load"
    if args.tree is None:
        for label, concurrency, us in uvloop.run(measure(args.requests, args.runs)):
            print(f"{label:18} c={concurrency:<3} {us:7.1f} us/request")
        return 0
    cells = compare(args.tree.resolve(), args.requests, args.runs, args.rounds)
    for cell in cells:
        print(
            f"{cell['case']:18} c={cell['concurrency']:<3} {cell['us_per_request']:7.1f} us"
            f"  baseline {cell['baseline_us_per_request']:7.1f} us  ratio {cell['ratio']:.2f}"
        )
    if args.out:
        baseline = subprocess.run(
            ["git", "-C", str(args.tree), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        report = {"baseline": baseline or str(args.tree.name), "rounds": args.rounds,
                  "runs": args.runs, "requests": args.requests, "cells": cells}  # fmt: skip
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
