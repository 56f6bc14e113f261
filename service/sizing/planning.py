"""The plan for this process: computed once by gunicorn's master, inherited by its workers."""

from __future__ import annotations

import json
import os

from service.settings import Settings
from service.sizing.cgroups import cgroup_memory_limit_mib, detect_cpu_limit
from service.sizing.formula import (
    DEFAULT_INPUT_DIM,
    Plan,
    artifact_input_dim,
    fit_to_memory,
    largest_body_bytes,
    model_mib,
    plan,
)

PLAN_ENV = "COREBOUND_PLAN"  # set by gunicorn_conf.py so every worker reports the same plan


def plan_for(settings: Settings) -> Plan:
    """Raises ValueError naming the numbers when the memory limit cannot hold one worker."""
    wanted = plan(
        detect_cpu_limit(),
        model_mib(settings.model_dir),
        mode=settings.concurrency_mode,
        web_concurrency=settings.web_concurrency,
        threads=settings.omp_num_threads,
        mmap=settings.model_mmap,
        # Only the built-in MLP is packed; a MODEL_CLASS factory holds its own weights.
        packed=settings.model_runtime == "onnxruntime" and settings.model_class is None,
        worker_overhead_mib=settings.worker_overhead_mib,
        headroom_mib=settings.memory_headroom_mib,
        max_body_bytes=planned_body_bytes(settings),
        parse_concurrency=settings.parse_concurrency,
    )
    return fit_to_memory(wanted, cgroup_memory_limit_mib())


def planned_body_bytes(settings: Settings) -> int:
    """MAX_BODY_BYTES, else the largest valid request for the artifact's width (or 64)."""
    if settings.max_body_bytes is not None:
        return settings.max_body_bytes
    width = artifact_input_dim(settings.model_dir) or DEFAULT_INPUT_DIM
    return largest_body_bytes(settings.max_rows_per_request, width)


def inherited_plan(settings: Settings) -> Plan:
    raw = os.environ.get(PLAN_ENV)
    return Plan(**json.loads(raw)) if raw else plan_for(settings)
