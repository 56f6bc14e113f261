"""Probes and the plan: cheap, never behind the inference queue (`/metrics`: service/app.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from service.inference.health_board import (
    Health,
    HealthBoard,
    Stalled,
    pod_stalls,
    publish_while_serving,
)
from service.web.responses import json_response
from service.web.runtime import runtime_of


@asynccontextmanager
async def report_health(app: FastAPI) -> AsyncIterator[None]:
    """Once the worker is ready (this runs inside the app's lifespan), report its inference
    health to its siblings' probes until it shuts down (service/inference/health_board.py)."""
    board = HealthBoard.from_environment()
    app.state.health_board = board
    engine = app.state.runtime.engine
    if board is None or engine is None:
        yield
        return
    task = asyncio.create_task(publish_while_serving(board, engine.health))
    try:
        yield
    finally:
        task.cancel()
        # Before the engine stops: a sibling must not read a stopping thread as a dead one.
        board.withdraw(os.getpid())


router = APIRouter(tags=["operations"], lifespan=report_health)


def _pod_stalls(request: Request) -> tuple[Health | None, list[int], list[Stalled]]:
    """This worker's health, the pod's workers judged (this one first), and the stalled ones."""
    rt = runtime_of(request)
    s = rt.settings
    if rt.engine is None:
        return None, [os.getpid()], [Stalled(os.getpid(), "no inference engine")]
    own = rt.engine.health()
    board: HealthBoard | None = getattr(request.app.state, "health_board", None)
    workers, stalled = pod_stalls(own, board, s.heartbeat_timeout_s, s.max_call_s)
    return own, workers, stalled


@router.get(
    "/healthz",
    summary="Liveness: event loop and inference thread alive, in every worker of the pod",
    responses={503: {"description": "An inference thread of the pod dead or stalled"}},
)
async def healthz(request: Request) -> Response:
    # The whole pod's verdict: the probe reaches one worker at random, and a hung sibling
    # must fail every probe for the kubelet to restart the pod.
    own, workers, stalled = _pod_stalls(request)
    body = {
        "status": "stalled" if stalled else "ok",
        "pid": os.getpid(),
        "heartbeat_age_s": round(own.heartbeat_age_s, 3) if own else None,
        # A model call in progress: busy until MAX_CALL_S, then hung.
        "call_age_s": round(own.call_age_s, 3) if own and own.call_age_s is not None else None,
        "workers": workers,
        "stalled": [asdict(s) for s in stalled],
    }
    return json_response(body, 503 if stalled else 200)


@router.get(
    "/readyz",
    # No "draining" state: uvicorn closes the listeners on SIGTERM before the lifespan ends,
    # so no probe could observe one; the chart's preStop sleep drains the endpoints.
    summary="Readiness: model loaded and warmed up, and no worker of the pod stalled",
    responses={503: {"description": "Still loading, or a worker stalled"}},
)
async def readyz(request: Request) -> Response:
    if not runtime_of(request).ready:
        return json_response({"ready": False}, 503)
    # Not ready while a worker is stalled: it still accepts connections, and every request
    # it takes waits REQUEST_TIMEOUT_S for a 504. Out of the Service (readiness fails in
    # about 2 x 5 s), new requests go to other pods for the rest of the liveness window
    # (3 x 10 s) until the restart; the pod's healthy workers idle only for that window.
    _, _, stalled = _pod_stalls(request)
    if stalled:
        return json_response({"ready": False, "stalled": [asdict(s) for s in stalled]}, 503)
    return json_response({"ready": True})


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
