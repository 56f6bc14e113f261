"""Issue 12's goals, the machine's limit, batch sizes and the OIP forms, from one run's rows.

The machine's limit at concurrency c: what this stack could serve if HTTP cost only its own
no-model floor (corebound on the floor model at c, scripts/bench/floor.py) and the model
ran at batch 32 on every core: 1 / (1 / floor req/s + 1 / (cores x rows/s at batch 32,
one BLAS thread)). One row per request, so req/s = rows/s.
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any

from scripts.bench.load import RUNTIMES, Row

LIMIT_NOTE = (
    "The limit: what this stack could serve if HTTP cost only its own no-model floor (corebound"
    " on the floor model at the same c) and the model ran at batch 32 on every core:"
    " 1 / (1 / floor req/s + 1 / (cores x rows/s at batch 32, one BLAS thread)); one row per"
    " request. The gap is batches below 32 (histogram below), the hand-off to the inference"
    " thread and back, and the loop and the model sharing a worker's core."
)
PEERS = ("threadpool", "threadpool-blas-default", "loop", "process-pool")
VS_BEST_PEER = 3.0
BINARY_VS_JSON = 1.5


def pick(rows: list[Row], name: str, concurrency: int) -> Row | None:
    return next((r for r in rows if r.pattern == name and r.concurrency == concurrency), None)


def cpu_us(row: Row) -> float:
    """Server CPU per request, microseconds (less sensitive to the machine's other load)."""
    return row.server_cores / row.rps * 1e6 if row.rps else float("nan")


def machine_limit(
    rows: list[Row], compute: list[dict[str, Any]], cores: int, concurrency: int
) -> dict[str, float]:
    floor = pick(rows, "corebound-floor", concurrency)
    core = pick(rows, "corebound", concurrency)
    served = [c for c in compute if c.get("runtime", RUNTIMES[0]) == RUNTIMES[0]]
    batch = next((c for c in served if c["blas_threads"] == 1 and c["batch"] == 32), None)
    if floor is None or core is None or batch is None:
        return {}
    model_rows = cores * batch["rows_per_s"]
    limit = 1 / (1 / floor.rps + 1 / model_rows)
    return {
        "concurrency": concurrency,
        "floor_rps": floor.rps,
        "model_rows_per_s": model_rows,
        "limit_rps": limit,
        "served_rps": core.rps,
        "fraction": core.rps / limit,
    }


def _peers(rows: list[Row], concurrency: int) -> list[Row]:
    return [r for r in (pick(rows, n, concurrency) for n in PEERS) if r is not None]


def goals(rows: list[Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in (32, 64):
        core, peers = pick(rows, "corebound", c), _peers(rows, c)
        if core and peers:
            best = max(peers, key=lambda r: r.rps)
            ratio = core.rps / best.rps
            out.append(
                {
                    "target": f"c={c}: req/s >= {VS_BEST_PEER:g}x the best other pattern",
                    "value": f"{ratio:.2f}x ({core.rps:.0f} vs {best.rps:.0f}, {best.pattern})",
                    "reached": ratio >= VS_BEST_PEER,
                }
            )
    core, peers = pick(rows, "corebound", 1), _peers(rows, 1)
    if core and peers:
        fastest = min(peers, key=lambda r: r.p50_ms)
        out.append(
            {
                "target": "c=1: p50 no worse than the fastest other pattern",
                "value": f"{core.p50_ms:.2f} ms vs {fastest.p50_ms:.2f} ms ({fastest.pattern})",
                "reached": core.p50_ms <= fastest.p50_ms,
            }
        )
    worst: list[str] = []
    checked = 0
    for c in sorted({r.concurrency for r in rows}):
        core, peers = pick(rows, "corebound", c), _peers(rows, c)
        if core is None or not peers:
            continue
        checked += 1
        best = min(peers, key=lambda r: r.healthz_p99_ms)
        if core.healthz_p99_ms > best.healthz_p99_ms:
            worst.append(f"c={c}: {core.healthz_p99_ms:.1f} vs {best.healthz_p99_ms:.1f} ms")
        if core.healthz_failures:
            worst.append(f"c={c}: {core.healthz_failures} probes failed")
    if checked:
        out.append(
            {
                "target": "/healthz p99 at or below every other pattern's, at every c",
                "value": "; ".join(worst) if worst else f"yes at all {checked} concurrencies",
                "reached": not worst,
            }
        )
    for c in (32,):
        binary, json_ = pick(rows, "corebound-oip-binary", c), pick(rows, "corebound-oip-json", c)
        if binary and json_:
            ratio = binary.rps / json_.rps
            cpu = cpu_us(json_) / cpu_us(binary)
            out.append(
                {
                    "target": f"c={c}: OIP binary tensors >= {BINARY_VS_JSON:g}x OIP JSON",
                    "value": f"{ratio:.2f}x ({binary.rps:.0f} vs {json_.rps:.0f} req/s;"
                    f" {cpu:.2f}x less server CPU per request)",
                    "reached": ratio >= BINARY_VS_JSON,
                }
            )
    return out


BUCKET = re.compile(r'^corebound_batch_rows_bucket\{le="([^"]+)"\} (\S+)$', re.MULTILINE)


def batch_buckets(url: str) -> dict[str, float]:
    """The service's cumulative batch-size buckets now (all workers merged)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {le: float(value) for le, value in BUCKET.findall(text)}


def bucket_delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {le: after[le] - before.get(le, 0.0) for le in after}


def batch_histogram(row: Row) -> list[tuple[str, float]]:
    """(bucket, batches) of the cell up to 64 rows (MAX_BATCH_SIZE's default)."""
    out, below = [], 0.0
    for le, cumulative in row.batch_rows.items():
        if le == "+Inf" or float(le) > 64:
            break
        out.append((f"{float(le):g}", cumulative - below))
        below = cumulative
    return out


def markdown(result: dict[str, Any], rows: list[Row]) -> list[str]:
    lines = ["", "## Server CPU per request (us; c = 32)", ""]
    lines += ["| pattern | req/s | server cores | CPU us/request |", "| --- | ---: | ---: | ---: |"]
    for r in (r for r in rows if r.concurrency == 32):
        lines.append(f"| {r.label} | {r.rps:.0f} | {r.server_cores:.2f} | {cpu_us(r):.0f} |")
    limits = result.get("machine_limit") or []
    if limits:
        lines += ["", "## Fraction of the machine's limit", "", LIMIT_NOTE]
        lines += [
            "",
            "| c | floor req/s | model rows/s (all cores, batch 32) | limit req/s "
            "| served req/s | fraction |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for m in limits:
            lines.append(
                f"| {m['concurrency']} | {m['floor_rps']:.0f} | {m['model_rows_per_s']:.0f} "
                f"| {m['limit_rps']:.0f} | {m['served_rps']:.0f} | {m['fraction']:.0%} |"
            )
    hist = [r for r in rows if r.concurrency == 32 and r.batch_rows]
    if hist:
        lines += ["", "## Batch sizes at c = 32 (model calls per `corebound_batch_rows` bucket)"]
        lines += ["", "| pattern | " + " | ".join(f"<= {le}" for le, _ in batch_histogram(hist[0]))]
        lines[-1] += " |"
        lines.append("| --- |" + " ---: |" * len(batch_histogram(hist[0])))
        for r in hist:
            counts = batch_histogram(r)
            total = sum(n for _, n in counts) or 1.0
            mean = r.requests / total
            lines.append(
                f"| {r.label} (mean {mean:.1f} rows) | "
                + " | ".join(f"{n:.0f}" for _, n in counts)
                + " |"
            )
    return lines
