"""How many workers, BLAS threads and how much memory this container can afford.

The limits themselves come from `service.cgroups`. The pure `plan()` is the one formula;
the Helm chart's `_helpers.tpl` implements the same one and a parity test holds them together.
Imports nothing heavy: gunicorn's master runs it.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from service.cgroups import MIB


@dataclass(frozen=True)
class Plan:
    cpu_limit: float
    mode: str
    workers: int
    threads: int
    model_mib: float
    model_copies: int
    worker_overhead_mib: int
    headroom_mib: int
    memory_mib: int
    memory_limit_mib: int | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_cpu_quantity(value: str | float | int) -> float:
    """Kubernetes CPU quantity (`2`, `"2"`, `"1500m"`, `0.5`) to cores."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", text)
    if not match:
        raise ValueError(
            f"not a CPU quantity: {value!r} (use cores like 2 or 0.5, or millicores like 1500m)"
        )
    cores = float(match.group(1)) / (1000 if match.group(2) else 1)
    if cores <= 0:
        raise ValueError(f"CPU quantity must be positive: {value!r}")
    return cores


def plan(
    cpu_limit: float,
    model_mib: float,
    *,
    mode: str = "throughput",
    web_concurrency: int | None = None,
    threads: int | None = None,
    mmap: bool = True,
    worker_overhead_mib: int = 96,
    headroom_mib: int = 128,
) -> Plan:
    """The sizing formula (README "Sizing"), pure so the chart can be checked against it.

    workers: WEB_CONCURRENCY when given; throughput mode one per whole core; latency mode one.
    threads: OMP_NUM_THREADS when given; else the cores a worker owns, at least one.
    memory: copies x model + workers x overhead + headroom, copies = 1 when memory-mapped.
    """
    if mode not in ("throughput", "latency"):
        raise ValueError(f"CONCURRENCY_MODE must be 'throughput' or 'latency', got {mode!r}")
    if web_concurrency is not None:
        workers = web_concurrency
    elif mode == "latency":
        workers = 1
    else:
        workers = max(1, math.floor(cpu_limit))
    if threads is None:
        threads = max(1, math.floor(cpu_limit / workers))
    copies = 1 if mmap else workers
    memory = math.ceil(copies * model_mib + workers * worker_overhead_mib + headroom_mib)
    return Plan(
        cpu_limit=cpu_limit,
        mode=mode,
        workers=workers,
        threads=threads,
        model_mib=round(model_mib, 3),
        model_copies=copies,
        worker_overhead_mib=worker_overhead_mib,
        headroom_mib=headroom_mib,
        memory_mib=memory,
    )


def fit_to_memory(p: Plan, memory_limit_mib: int | None) -> Plan:
    """Fewer workers when the cgroup memory limit cannot hold the plan; ValueError if none fit."""
    if memory_limit_mib is None:
        return p
    if p.memory_mib <= memory_limit_mib:
        return _replace(p, memory_limit_mib=memory_limit_mib)
    shared = p.model_mib if p.model_copies == 1 else 0.0
    per_worker = p.worker_overhead_mib + (0.0 if p.model_copies == 1 else p.model_mib)
    fit = math.floor((memory_limit_mib - p.headroom_mib - shared) / per_worker)
    if fit < 1:
        raise ValueError(
            f"memory limit {memory_limit_mib} MiB cannot hold one worker:"
            f" model {p.model_mib:.0f} MiB"
            f" x {p.model_copies} + {p.worker_overhead_mib} MiB per worker + {p.headroom_mib} MiB"
            f" headroom = {shared + per_worker + p.headroom_mib:.0f} MiB needed"
        )
    copies = 1 if p.model_copies == 1 else fit
    memory = math.ceil(copies * p.model_mib + fit * p.worker_overhead_mib + p.headroom_mib)
    note = (
        f"memory limit {memory_limit_mib} MiB < planned {p.memory_mib} MiB for {p.workers} workers:"
        f" starting {fit} workers ({memory} MiB)"
    )
    threads = max(p.threads, math.floor(p.cpu_limit / fit)) if fit < p.workers else p.threads
    return _replace(
        p,
        workers=fit,
        threads=threads,
        model_copies=copies,
        memory_mib=memory,
        memory_limit_mib=memory_limit_mib,
        note=note,
    )


def _replace(p: Plan, **changes: object) -> Plan:
    return Plan(**{**asdict(p), **changes})


def model_mib(model_dir: Path) -> float:
    """Bytes of weight files (what every private copy costs), without loading them."""
    total = sum(f.stat().st_size for f in model_dir.glob("*.npy")) if model_dir.is_dir() else 0
    return total / MIB
