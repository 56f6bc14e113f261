"""App factory and lifespan: the model is loaded per worker (memory-mapped), never at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI

from service import (
    __version__,
    errors,
    oip_errors,
    openapi_docs,
    routes_ops,
    routes_v1,
    routes_v2,
)
from service.codec import BodyPolicy
from service.engine import InferenceEngine
from service.fastpath import CoreboundAPI
from service.http_limits import requests_in_flight
from service.http_metrics import HttpMetricsMiddleware
from service.model import LoadedModel, load_model
from service.planning import inherited_plan
from service.resources import body_limit
from service.runtime import Runtime
from service.settings import Settings, load_settings

log = logging.getLogger("corebound")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: Runtime = app.state.runtime
    s = rt.settings
    rt.model = await asyncio.to_thread(
        load_model, s.model_dir, s.model_class, s.model_mmap, s.model_runtime, rt.plan.threads
    )
    rt.engine = InferenceEngine(
        rt.model.predictor.predict,
        max_batch=s.max_batch_size,
        max_wait_s=s.max_wait_ms / 1000,
        max_queue_rows=s.max_queue_rows,
        threads=rt.plan.threads,
        inline_max_s=s.inline_max_ms / 1000,
        alone=lambda: requests_in_flight() == 1,
    )
    rt.engine.start()
    app.state.body_policy = body_policy(rt, rt.model)
    # Warm up through the engine: pages the weights in and starts BLAS before traffic.
    await rt.engine.infer(np.zeros((1, rt.model.input_dim), np.float32), s.request_timeout_s)
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


def body_policy(rt: Runtime, model: LoadedModel) -> BodyPolicy:
    s = rt.settings
    wanted = s.max_body_bytes or body_limit(s.max_rows_per_request, model.input_dim)
    # Never above what the memory plan budgeted (it guessed the width when no model.json).
    limit = min(wanted, rt.plan.max_body_bytes)
    if limit < wanted:
        log.warning(
            "body limit %d bytes (the memory plan's) < %d for %d rows of %d numbers:"
            " set MAX_BODY_BYTES to plan for it",
            limit,
            wanted,
            s.max_rows_per_request,
            model.input_dim,
        )
    return BodyPolicy(
        max_bytes=limit,
        max_rows=s.max_rows_per_request,
        max_values=s.max_rows_per_request * model.input_dim,
        slots=s.parse_concurrency,
        wait_s=s.request_timeout_s,
    )


# Answered without FastAPI's per-request layers (service/fastpath.py): predict work and probes.
HOT_ROUTES = {
    ("POST", "/v1/predict"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    rt = Runtime(settings=settings, plan=inherited_plan(settings))
    app = CoreboundAPI(
        title="corebound",
        version=__version__,
        lifespan=lifespan,
        description="CPU-bound model inference, sized to the container's cores.",
    )
    app.state.runtime = rt
    for router in (routes_ops.router, routes_v1.router, routes_v2.router):
        app.include_router(router)
    errors.install(app)
    oip_errors.install(app)
    app.add_middleware(HttpMetricsMiddleware)
    app.enable_fast_path(HOT_ROUTES)
    openapi_docs.install(app, lambda: rt.model, settings.max_rows_per_request)
    return app
