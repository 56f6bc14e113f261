"""Probes and the plan: cheap, never behind the inference queue (`/metrics`: service/app.py)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.web.responses import json_response
from service.web.runtime import runtime_of

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness: event loop and inference thread alive",
    responses={503: {"description": "Inference thread dead or stalled"}},
)
async def healthz(request: Request) -> Response:
    rt = runtime_of(request)
    engine = rt.engine
    age = time.monotonic() - engine.heartbeat if engine else None
    ok = engine is not None and engine.healthy(rt.settings.heartbeat_timeout_s)
    body = {
        "status": "ok" if ok else "stalled",
        "heartbeat_age_s": round(age, 3) if age is not None else None,
    }
    return json_response(body, 200 if ok else 503)


@router.get(
    "/readyz",
    # No "draining" state: uvicorn closes the listeners on SIGTERM before the lifespan ends,
    # so no probe could observe one; the chart's preStop sleep drains the endpoints.
    summary="Readiness: model loaded and warmed up",
    responses={503: {"description": "Still loading"}},
)
async def readyz(request: Request) -> Response:
    ready = runtime_of(request).ready
    return json_response({"ready": ready}, 200 if ready else 503)


@router.get("/info", summary="The sizing plan, the model and the batching settings")
async def info(request: Request) -> dict[str, object]:
    rt = runtime_of(request)
    model = rt.model
    s = rt.settings
    return {
        "model": None
        if model is None
        else {
            "name": model.name,
            "version": model.version,
            "bytes": model.bytes,
            "input_dim": model.input_dim,
            "labels": model.labels,
        },
        "plan": asdict(rt.plan),
        "blas_threads": rt.engine.blas_threads if rt.engine else {},
        "batching": {
            "max_batch_size": s.max_batch_size,
            "max_wait_ms": s.max_wait_ms,
            "max_queue_rows": s.max_queue_rows,
            "max_rows_per_request": s.max_rows_per_request,
            "request_timeout_s": s.request_timeout_s,
        },
        "pid": os.getpid(),
    }
