"""Hand-made benchmark rows (scripts/bench/load.py's Row) for the bench tests."""

from __future__ import annotations

from typing import Any

from scripts.bench.load import Row


def row(pattern: str, concurrency: int, rps: float, **kw: Any) -> Row:
    """A plausible cell of `pattern` at `concurrency`; `kw` overrides any other field."""
    fields: dict[str, Any] = {
        "label": pattern, "p50_ms": 1.0, "p99_ms": 5.0, "max_ms": 9.0, "requests": 100,
        "non_2xx": 0, "socket_errors": 0, "healthz_p50_ms": 1.0, "healthz_p99_ms": 3.0,
        "healthz_failures": 0, "healthz_probes": 50, "server_cores": 1.0,
        "client_cores": 0.5, "load_average": 1.0,
    }  # fmt: skip
    return Row(pattern=pattern, concurrency=concurrency, rps=rps, **{**fields, **kw})
