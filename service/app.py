"""The composition root: the app factory and its lifespan, where every layer is wired.

The model is loaded per worker (memory-mapped) in the lifespan, never at import. The request
path, top-down: service/web/pipeline.py (middleware) -> service/web/routes (endpoints) ->
service/web/body.py (admission) -> service/protocol (decoding) -> service/inference/engine.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from prometheus_fastapi_instrumentator import Instrumentator

from service import __version__
from service.inference.engine import InferenceEngine, ModelError
from service.inference.loaded import LoadedModel
from service.inference.model import load_model
from service.jobs.client import JobClient
from service.settings import Settings, load_settings
from service.sizing.formula import DEFAULT_INPUT_DIM, job_body_bytes, largest_body_bytes
from service.sizing.planning import inherited_plan
from service.web import errors, oip_errors, openapi_docs
from service.web.body import BodyPolicy
from service.web.pipeline import CoreboundAPI, HotRoutes
from service.web.request_metrics import RequestMetrics
from service.web.routes import jobs, ops, v1, v2
from service.web.runtime import Runtime

log = logging.getLogger("corebound")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: Runtime = app.state.runtime
    s = rt.settings
    rt.model = await asyncio.to_thread(
        partial(
            load_model,
            s.model_dir,
            s.model_class,
            s.model_mmap,
            s.model_runtime,
            rt.plan.threads,
            packed=rt.plan.model_packed,
            name=s.model_name,
            version=s.model_version,
            cache_dir=s.model_cache_dir,
        )
    )
    check_planned_width(s, rt.model)
    rt.engine = InferenceEngine(
        rt.model.predictor.predict,
        max_batch=min(s.max_batch_size, rt.model.max_batch or s.max_batch_size),
        max_wait_s=s.max_wait_ms / 1000,
        max_queue_rows=s.max_queue_rows,
        threads=rt.plan.threads,
        inline_max_s=s.inline_max_ms / 1000 if rt.model.fixed_cost else 0.0,
        alone=lambda: requests_alone(app),
    )
    rt.engine.start()
    app.state.body_policy = body_policy(rt, rt.model)
    if s.jobs_enabled:
        app.state.jobs = jobs.Jobs(JobClient(s), job_body_policy(rt, rt.model))
    # Warm up through the engine: pages the weights in and starts BLAS before traffic.
    await warm_up(rt.engine, rt.model, s.request_timeout_s)
    # Everything loaded so far (FastAPI, the model, ONNX Runtime's session) lives as long as
    # the worker: out of the collector's reach, a full collection scans only what requests
    # made. Without it, collections of the whole heap doubled p99 at 64 clients (7,400 ->
    # 6,800 req/s, p99 16 -> 30 ms in `python -m scripts.bench`; 7,480 req/s, p99 15 ms with).
    gc.collect()  # garbage of the load first: frozen, it would never be freed
    gc.freeze()
    rt.ready = True
    log.info(
        "model %s %s loaded (%d bytes, mmap=%s); %d BLAS threads",
        rt.model.name,
        rt.model.version,
        rt.model.bytes,
        s.model_mmap,
        rt.plan.threads,
    )
    try:
        yield
    finally:
        rt.ready = False
        await asyncio.to_thread(rt.engine.stop, s.request_timeout_s)
        if s.jobs_enabled:
            await app.state.jobs.client.close()


async def warm_up(engine: InferenceEngine, model: LoadedModel, timeout_s: float) -> None:
    try:
        await engine.infer(zero_batch(model), timeout_s)
    except ModelError as exc:
        if not model.tensors:
            raise
        # A graph may refuse zeros (an index out of a vocabulary): serving it is still right.
        log.warning("warm-up with zeros failed, the first request pays the start: %s", exc)


def zero_batch(model: LoadedModel) -> Any:
    """One row of zeros (empty strings) per input: the smallest call the model takes."""
    arrays = []
    for spec in model.inputs:
        shape = (model.max_batch or 1, *(max(axis, 1) for axis in spec.row_shape))
        if spec.datatype == "BYTES":
            arrays.append(np.full(shape, "", dtype=object))
        else:
            arrays.append(np.zeros(shape, spec.dtype))
    return tuple(arrays) if model.tensors else arrays[0]


def check_planned_width(s: Settings, model: LoadedModel) -> None:
    """MODEL_INPUT_DIM (the chart's model.inputDim) sized the body limit: it must be the model's."""
    if s.model_input_dim is not None and s.model_input_dim != model.row_values:
        raise ValueError(
            f"MODEL_INPUT_DIM={s.model_input_dim} (the chart's model.inputDim) but model"
            f" {model.name!r} takes {model.row_values} values per row"
            f" (inputs {[spec.metadata() for spec in model.inputs]}):"
            f" set model.inputDim={model.row_values}"
        )


def body_policy(rt: Runtime, model: LoadedModel) -> BodyPolicy:
    s = rt.settings
    width = model.row_values or DEFAULT_INPUT_DIM
    wanted = s.max_body_bytes or largest_body_bytes(s.max_rows_per_request, width)
    limit = _planned_limit(wanted, rt.plan.max_body_bytes, "MAX_BODY_BYTES")
    return BodyPolicy(
        max_bytes=limit,
        max_rows=s.max_rows_per_request,
        max_values=_max_values(s.max_rows_per_request, model, limit),
        slots=s.parse_concurrency,
        wait_s=s.request_timeout_s,
    )


def job_body_policy(rt: Runtime, model: LoadedModel) -> BodyPolicy:
    """The job gate: one job body per worker at a time, within the job body limit."""
    s = rt.settings
    width = model.row_values or DEFAULT_INPUT_DIM
    wanted = job_body_bytes(s.job_max_rows, width, s.job_max_body_bytes)
    limit = _planned_limit(wanted, rt.plan.job_body_bytes or wanted, "JOB_MAX_BODY_BYTES")
    return BodyPolicy(
        max_bytes=limit,
        max_rows=s.job_max_rows,
        max_values=_max_values(s.job_max_rows, model, limit),
        slots=1,
        wait_s=s.request_timeout_s,
        bytes_setting="JOB_MAX_BODY_BYTES",
        rows_setting="JOB_MAX_ROWS",
        slots_setting="job bodies: one per worker",
    )


def _planned_limit(wanted: int, planned: int, setting: str) -> int:
    # Never above what the memory plan budgeted (it guessed the width when no model.json).
    if planned < wanted:
        log.warning(
            "body limit %d bytes (the memory plan's) < %d for the model's rows: set %s to"
            " plan for it",
            planned,
            wanted,
            setting,
        )
    return min(wanted, planned)


def _max_values(max_rows: int, model: LoadedModel, limit: int) -> int:
    # A width the graph leaves open: every value takes at least two bytes ("0,").
    return max_rows * model.row_values if model.row_values else limit // 2


def requests_alone(app: FastAPI) -> bool:
    """True when the calling request is the only one inside the app (INLINE_MAX_MS)."""
    pipeline: HotRoutes | None = getattr(app.state, "hot_routes", None)  # built on first call
    return pipeline is not None and pipeline.in_flight == 1


# Answered by the pipeline's HotRoutes without FastAPI's per-request layers: predict work and
# probes (service/web/pipeline.py).
HOT_ROUTES = frozenset(
    {
        ("POST", "/v1/predict"),
        ("POST", "/v2/models/{model_name}/infer"),
        ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/v2/health/live"),
        ("GET", "/v2/health/ready"),
    }
)


def create_app(
    settings: Settings | None = None, hot_routes: frozenset[tuple[str, str]] = HOT_ROUTES
) -> FastAPI:
    """The app; middleware added to it applies to every route (service/web/pipeline.py).

    `hot_routes` empty: every request takes FastAPI's own path (the tests and the benchmark
    compare the two).
    """
    settings = settings or load_settings()
    rt = Runtime(settings=settings, plan=inherited_plan(settings))
    app = CoreboundAPI(
        title="corebound",
        version=__version__,
        lifespan=lifespan,
        description="CPU-bound model inference, sized to the container's cores.",
        telemetry=TelemetryConfig(
            tracing=settings.fastapi_telemetry,
            metrics=settings.fastapi_telemetry,
            logs=settings.fastapi_telemetry,
        ),
    )
    app.state.runtime = rt
    for router in (ops.router, v1.router, v2.router):
        app.include_router(router)
    # Documented where served: off, the job routes answer 404 naming JOBS_ENABLED.
    app.include_router(jobs.router, include_in_schema=settings.jobs_enabled)
    # Prometheus text, not JSON: a plain Response documents no JSON body.
    Instrumentator().expose(
        app,
        tags=["operations"],
        summary="Prometheus metrics of all workers",
        response_class=Response,
    )
    errors.install(app)
    oip_errors.install(app)
    # Added first, so innermost: whatever is added later wraps them.
    app.add_middleware(HotRoutes, api=app, hot=hot_routes)
    app.add_middleware(RequestMetrics)
    job_rows = settings.job_max_rows if settings.jobs_enabled else None
    openapi_docs.install(app, lambda: rt.model, settings.max_rows_per_request, job_rows)
    return app
