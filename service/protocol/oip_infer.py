"""An Open Inference Protocol infer call end to end, without HTTP: which model, the body
decoded, the answer encoded. The v2 infer route and the job worker both go through these.
"""

from __future__ import annotations

import uuid
from typing import Any

from service.inference.loaded import LoadedModel
from service.protocol import oip_binary, oip_tensors
from service.protocol.errors import InputError
from service.protocol.rows import may_hold_bools, parse_json


def check_served(model: LoadedModel, name: str, version: str | None) -> None:
    """404 unless `name` (and `version`, when given) is the model this server serves."""
    if name != model.name:
        raise InputError(404, f"unknown model {name!r}; this server serves {model.name!r}")
    if version is not None and version != model.version:
        raise InputError(
            404, f"unknown version {version!r} of model {name!r}; versions: [{model.version!r}]"
        )


def parse(body: oip_binary.Body) -> Any:
    try:
        return parse_json(body.header)
    except InputError as exc:
        if body.binary:
            raise
        hint = " (binary tensors after the JSON need an Inference-Header-Content-Length header)"
        raise InputError(exc.status, exc.message + hint) from None


def decode(body: oip_binary.Body, model: LoadedModel, max_rows: int) -> oip_tensors.Decoded:
    return oip_tensors.decode(
        parse(body), body.tail, body.binary, model, max_rows, may_hold_bools(body.header)
    )


def json_body(text: str) -> oip_binary.Body:
    """A JSON-only body (a job's): no binary tensors after it."""
    return oip_binary.split(text.encode(), None)


def encode(
    model: LoadedModel, outputs: Any, decoded: oip_tensors.Decoded, request_id: str | None = None
) -> tuple[dict[str, Any], list[bytes]]:
    """The answer's JSON header and binary parts; the id is the request's, else `request_id`,
    else a new one."""
    answer_id = decoded.request_id or request_id or str(uuid.uuid4())
    return oip_tensors.encode(model, outputs, decoded.outputs, answer_id)
