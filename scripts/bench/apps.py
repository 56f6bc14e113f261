"""The serving patterns corebound is compared with, as FastAPI app factories for gunicorn.

    gunicorn -k uvicorn_worker.UvicornWorker -w 2 'scripts.bench.apps:loop_app()'   # repo root

Every app loads the model with corebound's own loader and decodes, validates and encodes with
corebound's own functions (`service.protocol.rows`) and admits bodies as corebound does
(`service.web.body`), so only the serving pattern differs. Each serves `GET /healthz`
(trivial, async) and `POST /v1/predict` with the same request and response JSON as corebound.
BLAS threads come from the environment the benchmark starts gunicorn with, and the model
runtime's threads follow them (`load`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from threadpoolctl import threadpool_info

from service.inference.loaded import LoadedModel
from service.inference.model import load_artifact
from service.protocol import rows as codec
from service.protocol.errors import InputError
from service.settings import DEFAULT_MODEL_DIR, Settings
from service.web.body import BodyPolicy, read_json_body

MAX_ROWS = 256  # corebound's default MAX_ROWS_PER_REQUEST
MAX_BODY_BYTES = 4 * 1024 * 1024  # corebound's default MAX_BODY_BYTES


def model_dir() -> Path:
    return Path(os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)


def load(directory: Path | None = None) -> LoadedModel:
    """corebound's loader and runtime, with as many threads as BLAS has in this process."""
    threads = max((p["num_threads"] for p in threadpool_info()), default=1)
    return load_artifact(directory or model_dir(), threads=threads)


def decode(body: bytes, input_dim: int) -> np.ndarray:
    return codec.decode_predict(
        codec.parse_json(body), input_dim, MAX_ROWS, codec.may_hold_bools(body)
    )


def respond(outputs: np.ndarray, labels: list[str]) -> Response:
    payload = {"outputs": outputs, "labels": codec.argmax_labels(outputs, labels)}
    return Response(codec.encode(payload), media_type="application/json")


async def raw_body(request: Request) -> bytes:
    return await read_json_body(request)


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return Response(codec.encode({"detail": exc.message}), exc.status)


def _base(
    model: LoadedModel,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    settings = Settings()
    app.state.body_policy = BodyPolicy(
        max_bytes=MAX_BODY_BYTES,
        max_rows=MAX_ROWS,
        max_values=MAX_ROWS * model.rows_width(),
        slots=settings.parse_concurrency,
        wait_s=settings.request_timeout_s,
    )
    app.add_exception_handler(InputError, _input_error)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(codec.encode({"status": "ok"}), media_type="application/json")

    return app


def threadpool_app() -> FastAPI:
    """`def` endpoint: FastAPI runs parse, predict and encode in its threadpool (40 threads)."""
    model = load()
    app = _base(model)

    # The body is read on the loop (as FastAPI does for any body parameter); the rest is sync.
    @app.post("/v1/predict")
    def predict(body: bytes = Depends(raw_body)) -> Response:
        rows = decode(body, model.rows_width())
        return respond(model.predictor.predict(rows), model.labels)

    return app


def loop_app() -> FastAPI:
    """`async def` endpoint calling the model directly: the event loop blocks while it runs."""
    model = load()
    app = _base(model)

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        rows = decode(await raw_body(request), model.rows_width())
        return respond(model.predictor.predict(rows), model.labels)

    return app


_pool_model: LoadedModel | None = None


def _pool_init(directory: str) -> None:
    global _pool_model
    _pool_model = load(Path(directory))
    _pool_model.predictor.predict(np.zeros((1, _pool_model.rows_width()), np.float32))


def _pool_predict(rows: np.ndarray) -> np.ndarray:
    assert _pool_model is not None
    return np.asarray(_pool_model.predictor.predict(rows))


def process_pool_app() -> FastAPI:
    """A ProcessPoolExecutor made at start (each process loads the model); requests await it."""
    model = load()  # metadata (input dim, labels) for the worker itself
    processes = int(os.environ.get("BENCH_POOL_PROCESSES", "2"))
    state: dict[str, ProcessPoolExecutor] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        pool = ProcessPoolExecutor(
            processes,
            mp_context=get_context("spawn"),
            initializer=_pool_init,
            initargs=(str(model_dir()),),
        )
        loop = asyncio.get_running_loop()
        # Start every process before traffic, as the lifespan of a real service would.
        zeros = np.zeros((1, model.rows_width()), np.float32)
        await asyncio.gather(
            *(loop.run_in_executor(pool, _pool_predict, zeros) for _ in range(processes))
        )
        state["pool"] = pool
        try:
            yield
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    app = _base(model, lifespan)

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        rows = decode(await raw_body(request), model.rows_width())
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(state["pool"], _pool_predict, rows)
        return respond(outputs, model.labels)

    return app


def control_app() -> FastAPI:
    """No model: parse, validate and encode a constant 10-wide output (the HTTP + JSON ceiling)."""
    model = load()
    width = len(model.labels) or 10
    constant = np.full((1, width), 1.0 / width, np.float32)
    app = _base(model)

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        rows = decode(await raw_body(request), model.rows_width())
        return respond(np.repeat(constant, len(rows), axis=0), model.labels)

    return app


APPS: dict[str, Any] = {
    "threadpool": threadpool_app,
    "loop": loop_app,
    "process_pool": process_pool_app,
    "control": control_app,
}
