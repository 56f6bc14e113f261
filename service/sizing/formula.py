"""How many workers, BLAS threads and how much memory this container can afford.

The limits themselves come from `service.sizing.cgroups`. The pure `plan()` is the one
formula; the Helm chart's `templates/_sizing.tpl` implements the same one and a parity test
holds them together.
Imports nothing heavy: gunicorn's master runs it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from service.sizing.cgroups import MIB

# Peak bytes a worker's request path holds per byte of the body limit, per parse slot:
# the body while it is read, plus (one at a time: parsing is synchronous) its joined copy,
# orjson's (yyjson's) value pool sized from the body, Python objects and arrays. Measured at
# most 19.3x over every shape the limits admit once values and containers are counted before
# parsing (tests/test_hostile_memory.py prints it); 24x kept.
BODY_EXPANSION = 24
# The widest number a JSON encoder writes for a float (repr of -1.2345678901234567e-308),
# plus ", " between numbers; a row adds "[", "]" and ", "; the envelope holds the keys, a v2
# tensor's name, shape and datatype, "outputs", "id" and whitespace.
NUMBER_BYTES = 24 + 2
ROW_BYTES = 4
ENVELOPE_BYTES = 4096
DEFAULT_INPUT_DIM = 64  # the embedded model's; the plan's guess when no model.json says
DEFAULT_PARSE_CONCURRENCY = 2


def largest_body_bytes(max_rows: int, input_dim: int) -> int:
    """Bytes of the largest valid request: rows x width numbers at their widest."""
    return max_rows * (input_dim * NUMBER_BYTES + ROW_BYTES) + ENVELOPE_BYTES


DEFAULT_BODY_BYTES = largest_body_bytes(256, DEFAULT_INPUT_DIM)  # 431,104


def job_body_bytes(job_max_rows: int, input_dim: int, job_max_body_bytes: int | None = None) -> int:
    """B, a job body's limit: JOB_MAX_BODY_BYTES, else the largest valid job of JOB_MAX_ROWS.

    The API pod with JOBS_ENABLED plans one such body per worker (`plan(job_body_bytes=B)`);
    the job worker plans `plan(max_body_bytes=B, parse_concurrency=1)`, one job per process.
    """
    return job_max_body_bytes or largest_body_bytes(job_max_rows, input_dim)


@dataclass(frozen=True)
class Plan:
    cpu_limit: float
    mode: str
    workers: int
    threads: int
    model_mib: float
    model_copies: int  # the mapped or private source copies + one packed copy per worker
    worker_overhead_mib: int
    headroom_mib: int
    memory_mib: int
    request_mib: float = 0.0
    max_body_bytes: int = DEFAULT_BODY_BYTES
    job_body_bytes: int = 0  # the API's job body limit (JOBS_ENABLED), planned once per worker
    memory_limit_mib: int | None = None
    note: str = ""
    model_mmap: bool = True
    model_packed: bool = False

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


def request_mib(max_body_bytes: int, parse_concurrency: int) -> float:
    """Memory per worker for request bodies: every slot reading one, one of them parsed."""
    return max_body_bytes * (parse_concurrency + BODY_EXPANSION) / MIB


def plan(
    cpu_limit: float,
    model_mib: float,
    *,
    mode: str = "throughput",
    web_concurrency: int | None = None,
    threads: int | None = None,
    mmap: bool = True,
    packed: bool = True,
    worker_overhead_mib: int = 96,
    headroom_mib: int = 128,
    max_body_bytes: int = DEFAULT_BODY_BYTES,
    parse_concurrency: int = DEFAULT_PARSE_CONCURRENCY,
    job_body_bytes: int = 0,
) -> Plan:
    """The sizing formula (README "Sizing"), pure so the chart can be checked against it.

    workers: WEB_CONCURRENCY when given; throughput mode one per whole core; latency mode one.
    threads: OMP_NUM_THREADS when given; else the cores a worker owns, at least one.
    memory: copies x model + workers x (overhead + requests) + headroom, copies = 1 when
    memory-mapped (else one per worker), plus one per worker when `packed` (MODEL_RUNTIME
    onnxruntime packs the weights in each worker); requests = the body limit x (parse slots +
    BODY_EXPANSION), plus, serving jobs (`job_body_bytes` B > 0), B x (1 + BODY_EXPANSION):
    one job body read and parsed at a time.
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
    copies = _copies(workers, mmap, packed)
    requests = request_mib(max_body_bytes, parse_concurrency) + request_mib(job_body_bytes, 1)
    memory = _memory_mib(copies, model_mib, workers, worker_overhead_mib + requests, headroom_mib)
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
        request_mib=requests,
        max_body_bytes=max_body_bytes,
        job_body_bytes=job_body_bytes,
        model_mmap=mmap,
        model_packed=packed,
    )


def _memory_mib(
    copies: int, model_mib: float, workers: int, per_worker_mib: float, headroom_mib: int
) -> int:
    """The memory formula: copies x model + workers x (overhead + requests) + headroom."""
    return math.ceil(copies * model_mib + workers * per_worker_mib + headroom_mib)


def _copies(workers: int, mmap: bool, packed: bool) -> int:
    return (1 if mmap else workers) + (workers if packed else 0)


def fit_to_memory(p: Plan, memory_limit_mib: int | None) -> Plan:
    """Fewer workers when the cgroup memory limit cannot hold the plan; ValueError if none fit."""
    if memory_limit_mib is None:
        return p
    if p.memory_mib <= memory_limit_mib:
        return _replace(p, memory_limit_mib=memory_limit_mib)
    shared = p.model_mib if p.model_mmap else 0.0
    copies_per_worker = (0 if p.model_mmap else 1) + (1 if p.model_packed else 0)
    per_worker = p.worker_overhead_mib + p.request_mib + copies_per_worker * p.model_mib
    fit = math.floor((memory_limit_mib - p.headroom_mib - shared) / per_worker)
    if fit < 1:
        raise ValueError(
            f"memory limit {memory_limit_mib} MiB cannot hold one worker:"
            f" model {p.model_mib:.0f} MiB"
            f" x {p.model_copies} + {p.worker_overhead_mib} + {p.request_mib:.1f} (requests) MiB"
            f" per worker + {p.headroom_mib} MiB"
            f" headroom = {shared + per_worker + p.headroom_mib:.0f} MiB needed"
        )
    copies = _copies(fit, p.model_mmap, p.model_packed)
    per_worker_mib = p.worker_overhead_mib + p.request_mib
    memory = _memory_mib(copies, p.model_mib, fit, per_worker_mib, p.headroom_mib)
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


def packed_plan(
    cpu_limit: float,
    model_mib: float,
    *,
    packing: str = "auto",
    on_onnxruntime: bool = True,
    pack_max_mib: int = 1024,
    memory_limit_mib: int | None = None,
    **options: object,
) -> Plan:
    """`plan()` with MODEL_PACKING decided: a packed copy per worker or the shared copy only.

    Only ONNX Runtime packs (the built-in MLP on onnxruntime, a model.onnx). `auto` packs
    when the packed copies, workers x model, add at most `pack_max_mib` (MODEL_PACK_MAX_MIB)
    and the packed plan fits the memory limit (if any): a 2,000 MiB model on 2 CPUs is
    planned shared, the 19 MiB default packed. The chart's _sizing.tpl decides the same way.
    """
    if packing not in ("auto", "packed", "shared"):
        raise ValueError(f"MODEL_PACKING must be auto, packed or shared, got {packing!r}")
    packed = plan(cpu_limit, model_mib, packed=True, **options)  # type: ignore[arg-type]
    if on_onnxruntime and packing == "packed":
        return packed
    if on_onnxruntime and packing == "auto":
        fits = memory_limit_mib is None or packed.memory_mib <= memory_limit_mib
        if packed.workers * model_mib <= pack_max_mib and fits:
            return packed
    return plan(cpu_limit, model_mib, packed=False, **options)  # type: ignore[arg-type]


def _replace(p: Plan, **changes: object) -> Plan:
    return Plan(**{**asdict(p), **changes})


def artifact_input_dim(model_dir: Path) -> int | None:
    """`input_dim` from model.json without loading weights; None when it does not say."""
    try:
        return int(json.loads((model_dir / "model.json").read_text())["input_dim"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_kind(model_dir: Path, model_class: str | None) -> str:
    """ "class" (MODEL_CLASS), "onnx" (model.onnx) or "artifact" (model.json + .npy)."""
    if model_class:
        return "class"
    return "onnx" if (model_dir / "model.onnx").is_file() else "artifact"


def model_mib(model_dir: Path, kind: str = "artifact") -> float:
    """MiB of one copy of the weights, without loading them.

    artifact: its .npy files; onnx: model.onnx and its external data (every file but
    model.json); class: every file under the directory (what the factory may load).
    """
    if not model_dir.is_dir():
        return 0.0
    if kind == "artifact":
        files = list(model_dir.glob("*.npy"))
    elif kind == "onnx":
        files = [f for f in model_dir.iterdir() if f.is_file() and f.name != "model.json"]
    else:
        files = [f for f in model_dir.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / MIB
