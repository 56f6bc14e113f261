"""The plan for this process: computed once by gunicorn's master, inherited by its workers."""

from __future__ import annotations

import json
import os

from service.cgroups import cgroup_memory_limit_mib, detect_cpu_limit
from service.resources import Plan, fit_to_memory, model_mib, plan
from service.settings import Settings

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
        worker_overhead_mib=settings.worker_overhead_mib,
        headroom_mib=settings.memory_headroom_mib,
    )
    return fit_to_memory(wanted, cgroup_memory_limit_mib())


def inherited_plan(settings: Settings) -> Plan:
    raw = os.environ.get(PLAN_ENV)
    return Plan(**json.loads(raw)) if raw else plan_for(settings)
