"""A small closed-loop HTTP load generator that records every request, for the behaviour tests.

Each of C threads keeps one keep-alive connection and sends requests back to back until
the duration ends; a failed connection is replaced. Every request is written as a JSON line
(start, end, status or error, Retry-After), so tests can ask what happened around a signal.

    python -m scripts.local loadgen --url http://127.0.0.1:8000/v1/predict -c 16 --out x.jsonl
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def body_for(rows: int) -> bytes:
    data = json.loads(
        (Path(__file__).resolve().parents[2] / "loadtests/data/digits_holdout.json").read_text()
    )
    inputs = [data["inputs"][i % len(data["inputs"])] for i in range(rows)]
    return json.dumps({"inputs": inputs}).encode()


def client(
    url: str, body: bytes, until: float, timeout_s: float, out: list[dict[str, object]]
) -> None:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection | None = None
    while time.time() < until:
        if conn is None:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
        record: dict[str, object] = {"start": time.time()}
        try:
            conn.request("POST", parts.path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            record["status"] = response.status
            if response.getheader("Retry-After"):
                record["retry_after"] = response.getheader("Retry-After")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            record["error"] = type(exc).__name__
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)  # a refused port answers instantly; do not spin
        record["end"] = time.time()
        out.append(record)
    if conn is not None:
        conn.close()


def run(
    url: str, rows: int, concurrency: int, duration_s: float, timeout_s: float
) -> list[dict[str, object]]:
    body = body_for(rows)
    until = time.time() + duration_s
    out: list[dict[str, object]] = []
    threads = [
        threading.Thread(target=client, args=(url, body, until, timeout_s, out))
        for _ in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local loadgen", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    records = run(args.url, args.rows, args.concurrency, args.duration, args.timeout)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in records))
