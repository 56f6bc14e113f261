"""Per-row cost of the Open Inference Protocol's JSON form against its binary form.

Two measurements, printed, never asserted (the machine is shared):
- `decode_cost`: the server's own decoding (body split, JSON header parse, tensor decode and
  checks) in process, per row, for each form; what the binary extension saves or costs.
- `http_cost`: sequential infer requests against a running service, per row, each form
  (bodies built before timing, so the client's encoding is not counted).

    python -m scripts.bench oip                  # decode cost, and HTTP against a fresh service
    python -m scripts.bench oip --url http://127.0.0.1:8000   # HTTP against a running one
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import numpy as np

from service.inference.loaded import LoadedModel
from service.inference.model import load_model
from service.protocol import oip_binary, oip_tensors
from service.protocol import rows as codec
from service.settings import DEFAULT_MODEL_DIR
from service.web.body import HEADER_LENGTH

PATH = "/v2/models/{name}/infer"
ROW_COUNTS = (1, 8, 64, 256)


def bodies(rows: np.ndarray) -> dict[str, tuple[bytes, dict[str, str]]]:
    """The same tensor as each form sends it; outputs come back in the same form."""
    tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP32"}
    as_json = {"inputs": [{**tensor, "data": rows.reshape(-1).tolist()}]}
    header = json.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": rows.nbytes}}],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    raw = struct.pack(f"<{rows.size}f", *rows.reshape(-1).tolist())
    return {
        "json": (json.dumps(as_json).encode(), {"Content-Type": "application/json"}),
        "binary": (header + raw, {HEADER_LENGTH: str(len(header))}),
    }


def _decode(model: LoadedModel, body: bytes, headers: dict[str, str]) -> np.ndarray:
    parts = oip_binary.split(body, headers.get(HEADER_LENGTH))
    payload = codec.parse_json(parts.header)
    scan = codec.may_hold_bools(parts.header)
    return oip_tensors.decode(payload, parts.tail, parts.binary, model, 100_000, scan).rows


def _per_row_us(run: Callable[[], object], rows: int, min_seconds: float) -> float:
    run()  # warm
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        run()
        count += 1
    return elapsed / count / rows * 1e6


def decode_cost(
    model: LoadedModel, row_counts: tuple[int, ...] = ROW_COUNTS, min_seconds: float = 0.3
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    results = []
    for n in row_counts:
        rows = rng.uniform(0, 16, (n, model.rows_width())).astype(np.float32)
        for form, (body, headers) in bodies(rows).items():
            if not np.array_equal(_decode(model, body, headers), rows):
                raise RuntimeError(f"{form} form decoded {n} rows to different numbers")
            us = _per_row_us(partial(_decode, model, body, headers), n, min_seconds)
            results.append({"rows": n, "form": form, "bytes": len(body), "us_per_row": us})
    return results


def http_cost(
    url: str,
    model: LoadedModel,
    row_counts: tuple[int, ...] = ROW_COUNTS,
    requests: int = 50,
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    path = PATH.format(name=model.name)
    results = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in row_counts:
            rows = rng.uniform(0, 16, (n, model.rows_width())).astype(np.float32)
            for form, (body, headers) in bodies(rows).items():

                def call(b: bytes = body, h: dict[str, str] = headers) -> None:
                    http.post(path, content=b, headers=h).raise_for_status()

                call()
                start = time.perf_counter()
                for _ in range(requests):
                    call()
                elapsed = time.perf_counter() - start
                results.append(
                    {"rows": n, "form": form, "us_per_row": elapsed / requests / n * 1e6}
                )
    return results


def table(title: str, results: list[dict[str, Any]]) -> str:
    lines = [title, f"{'rows':>5} {'form':>7} {'bytes':>8} {'us/row':>9} {'binary/json':>12}"]
    by_key = {(r["rows"], r["form"]): r for r in results}
    for r in results:
        ratio = r["us_per_row"] / by_key[(r["rows"], "json")]["us_per_row"]
        size = str(r.get("bytes", "-"))
        lines.append(
            f"{r['rows']:>5} {r['form']:>7} {size:>8} {r['us_per_row']:>9.2f} {ratio:>12.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench oip", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--url", help="a running service (default: start one here)")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    model = load_model(DEFAULT_MODEL_DIR, None, True)
    print(table("server-side decode, in process", decode_cost(model)))
    if args.url:
        print(
            table(
                f"HTTP, sequential, {args.url}", http_cost(args.url, model, requests=args.requests)
            )
        )
        return 0
    from scripts.local.service import run_service  # only when it starts its own service

    with run_service() as svc:
        print(
            table(
                "HTTP, sequential, fresh service", http_cost(svc.url, model, requests=args.requests)
            )
        )
    return 0
