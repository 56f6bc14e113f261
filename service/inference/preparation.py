"""What a process does before its workers fork: gunicorn's master (service/gunicorn_conf.py)
and the job worker's main process (service/jobs/worker.py) alike.

The plan from the cgroup, once; the BLAS thread counts and the plan in the environment every
worker inherits (BLAS reads them when numpy loads in each worker: the plan's threads, not one
per node core); a model.onnx's weights prepared once, so every worker maps one copy. Imports
nothing heavy at module level: gunicorn's master reads its config with it.
"""

from __future__ import annotations

import json
import os

from service.settings import Settings
from service.sizing.formula import Plan, model_kind
from service.sizing.planning import PLAN_ENV, Role, plan_for

BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def prepare_workers(settings: Settings, role: Role = "api") -> Plan:
    """The plan the workers inherit; SystemExit naming the problem when none can start."""
    try:
        plan = plan_for(settings, role=role)
    except ValueError as exc:
        raise SystemExit(f"corebound: {exc}") from None
    for var in BLAS_VARS:
        os.environ[var] = str(plan.threads)
    os.environ[PLAN_ENV] = json.dumps(plan.as_dict())
    if model_kind(settings.model_dir, settings.model_class) == "onnx":
        from service.inference.onnx_session import prepare_shared

        try:
            prepare_shared(
                settings.model_dir / "model.onnx", settings.model_cache_dir, plan.model_packed
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise SystemExit(
                f"corebound: model.onnx (MODEL_CACHE_DIR {settings.model_cache_dir}): {exc}"
            ) from None
    return plan
