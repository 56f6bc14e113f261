"""One job in a Celery child: the body decoded again with the sync route's decoder, the
model's predictor called directly, the answer encoded exactly as the sync route encodes it.

Imported only in the children (it loads numpy): the worker's main process must not load
BLAS before the plan's thread counts are in the environment, nor carry it into every fork.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from service.inference import batches
from service.inference.loaded import LoadedModel
from service.inference.model import load_model
from service.jobs.record import JobFailed
from service.protocol import oip_infer, predict
from service.protocol.errors import InputError
from service.protocol.rows import encode
from service.settings import Settings
from service.sizing.formula import Plan

ROWS_SETTING = "JOB_MAX_ROWS"


class Loaded:
    model: LoadedModel | None = None


def load(settings: Settings, plan: Plan) -> LoadedModel:
    """The model, once per child (memory-mapped), as the API's lifespan loads it."""
    s = settings
    Loaded.model = partial(
        load_model,
        s.model_dir,
        s.model_class,
        s.model_mmap,
        s.model_runtime,
        plan.threads,
        packed=plan.model_packed,
        name=s.model_name,
        version=s.model_version,
        cache_dir=s.model_cache_dir,
    )()
    return Loaded.model


def run(
    kind: str, body: str, model_name: str, model_version: str | None, job_id: str, max_rows: int
) -> dict[str, Any]:
    """The answer /v1/predict (kind "predict") or /v2 infer ("infer") gives for `body`, as
    JSON values (a Celery result); JobFailed naming the problem otherwise."""
    model = Loaded.model
    if model is None:
        raise JobFailed("the worker has no model loaded")
    try:
        oip_infer.check_served(model, model_name, model_version)
        if kind == "predict":
            batch = predict.decode(body.encode(), model, max_rows, ROWS_SETTING)
            payload = predict.encode(model, _call(model, batch))
        elif kind == "infer":
            decoded = oip_infer.decode(oip_infer.json_body(body), model, max_rows)
            header, parts = oip_infer.encode(model, _call(model, decoded.rows), decoded, job_id)
            if parts:
                raise JobFailed("jobs answer JSON: binary_data outputs are not supported")
            payload = header
        else:
            raise JobFailed(f"unknown job kind {kind!r}")
    except InputError as exc:  # validated at submission: a different model or version now
        raise JobFailed(f"refused ({exc.status}): {exc.message}") from None
    # Exactly the bytes the sync route writes (orjson, float32 at its shortest), read back
    # as JSON values: Celery's encoder writes the same numbers again.
    return dict(orjson.loads(encode(payload)))


def _call(model: LoadedModel, batch: Any) -> Any:
    try:
        return batches.checked(model.predictor.predict(batch), batches.rows_of(batch))
    except Exception as exc:  # the model's bug fails this job, never the worker
        raise JobFailed(f"model failed: {type(exc).__name__}: {exc}") from exc
