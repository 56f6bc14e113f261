"""The plan for this process: computed once by gunicorn's master, inherited by its workers."""

from __future__ import annotations

import json
import os
from typing import Literal

from service.settings import Settings
from service.sizing.cgroups import cgroup_memory_limit_mib, detect_cpu_limit
from service.sizing.formula import (
    DEFAULT_INPUT_DIM,
    Plan,
    artifact_input_dim,
    fit_to_memory,
    job_body_bytes,
    largest_body_bytes,
    model_kind,
    model_mib,
    packed_plan,
)

PLAN_ENV = "COREBOUND_PLAN"  # set by gunicorn_conf.py so every worker reports the same plan
Role = Literal["api", "jobs"]


def plan_for(settings: Settings, role: Role = "api") -> Plan:
    """The plan of the API pod (gunicorn) or of the job worker (`python -m service.jobs.worker`).

    The API with JOBS_ENABLED reads one job body per worker besides its requests; a job worker
    process reads one job at a time: its body limit is the job body's, one parse slot.
    Raises ValueError naming the numbers when the memory limit cannot hold one worker.
    """
    s = settings
    bodies: dict[str, int] = {
        "max_body_bytes": planned_body_bytes(s),
        "parse_concurrency": s.parse_concurrency,
        "job_body_bytes": planned_job_body_bytes(s) if s.jobs_enabled else 0,
    }
    if role == "jobs":
        bodies = {"max_body_bytes": planned_job_body_bytes(s), "parse_concurrency": 1}
    kind = model_kind(s.model_dir, s.model_class)
    if kind == "onnx" and s.model_runtime == "numpy":
        raise ValueError("MODEL_RUNTIME=numpy runs only the built-in MLP, not model.onnx")
    limit = cgroup_memory_limit_mib()
    wanted = packed_plan(
        detect_cpu_limit(),
        model_mib(s.model_dir, kind),
        # A MODEL_CLASS factory holds its own weights; only ONNX Runtime packs.
        packing=s.model_packing,
        on_onnxruntime=kind != "class" and s.model_runtime == "onnxruntime",
        pack_max_mib=s.model_pack_max_mib,
        memory_limit_mib=limit,
        mode=s.concurrency_mode,
        web_concurrency=s.web_concurrency,
        threads=s.omp_num_threads,
        mmap=s.model_mmap,
        worker_overhead_mib=s.worker_overhead_mib,
        headroom_mib=s.memory_headroom_mib,
        **bodies,
    )
    return fit_to_memory(wanted, limit)


def planned_body_bytes(settings: Settings) -> int:
    """MAX_BODY_BYTES, else the largest valid request for MODEL_INPUT_DIM, the artifact's
    width or 64 (the model itself is checked against MODEL_INPUT_DIM when it loads)."""
    if settings.max_body_bytes is not None:
        return settings.max_body_bytes
    width = settings.model_input_dim or artifact_input_dim(settings.model_dir) or DEFAULT_INPUT_DIM
    return largest_body_bytes(settings.max_rows_per_request, width)


def planned_job_body_bytes(settings: Settings) -> int:
    """B: JOB_MAX_BODY_BYTES, else the largest valid job of JOB_MAX_ROWS rows of the width
    planned_body_bytes uses."""
    s = settings
    width = s.model_input_dim or artifact_input_dim(s.model_dir) or DEFAULT_INPUT_DIM
    return job_body_bytes(s.job_max_rows, width, s.job_max_body_bytes)


def inherited_plan(settings: Settings) -> Plan:
    raw = os.environ.get(PLAN_ENV)
    return Plan(**json.loads(raw)) if raw else plan_for(settings)
