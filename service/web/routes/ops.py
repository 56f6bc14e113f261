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
    now = time.monotonic()
    age = now - engine.heartbeat if engine else None
    started = engine.call_started if engine else None
    s = rt.settings
    ok = engine is not None and engine.healthy(s.heartbeat_timeout_s, s.max_call_s)
    body = {
        "status": "ok" if ok else "stalled",
        "heartbeat_age_s": round(age, 3) if age is not None else None,
        # A model call in progress: busy until MAX_CALL_S, then hung.
        "call_age_s": round(now - started, 3) if started is not None else None,
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
            "platform": model.platform,
            # Packed: a packed copy of the weights per worker; else all share the mapped one.
            "weights": "packed" if model.packed else "shared",
            "inputs": [spec.metadata() for spec in model.inputs],
            "outputs": [spec.metadata() for spec in model.outputs],
        },
        "plan": asdict(rt.plan),
        "blas_threads": rt.engine.blas_threads if rt.engine else {},
        "batching": {
            "max_batch_size": s.max_batch_size,
            "max_wait_ms": s.max_wait_ms,
            "max_queue_rows": s.max_queue_rows,
            "max_rows_per_request": s.max_rows_per_request,
            "request_timeout_s": s.request_timeout_s,
            "max_call_s": s.max_call_s,
        },
        "pid": os.getpid(),
    }
