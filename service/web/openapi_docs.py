"""OpenAPI descriptions: response models, and request schemas sized to the loaded model.

Bodies are parsed with orjson (faster than pydantic for big numeric arrays), so request
schemas are declared here and completed with the model's input width once it is loaded.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

FLOAT32_MAX = 3.4028234e38


class PredictResponse(BaseModel):
    outputs: list[list[float]]
    labels: list[str]


class ErrorDetail(BaseModel):
    detail: str


class OipError(BaseModel):
    error: str


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float] | list[str]


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str
    outputs: list[OutputTensor]


class JobAccepted(BaseModel):
    id: str
    status: Literal["queued"]


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    kind: Literal["predict", "infer"]
    submitted_at: str
    started_at: str | None = None
    finished_at: str | None = None
    runs: int
    result: PredictResponse | InferResponse | None = None  # succeeded only
    error: str | None = None  # failed only


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def _errors(model: type[BaseModel], bad_request: int) -> dict[int | str, dict[str, Any]]:
    return {
        bad_request: {
            "model": model,
            "description": "Malformed or invalid input; the message says what",
        },
        413: {"model": model, "description": "Body or batch larger than allowed"},
        415: {"model": model, "description": "Content-Type is not application/json"},
        503: {
            "model": model,
            "description": "Queue full, or too many bodies being read (PARSE_CONCURRENCY)",
            "headers": _RETRY_AFTER,
        },
        504: {"model": model, "description": "No result within REQUEST_TIMEOUT_S"},
    }


_UNAVAILABLE = {
    "description": "Queue full (JOB_MAX_QUEUED) or Redis unreachable",
    "headers": _RETRY_AFTER,
}
# Either key: /v1 paths answer {"detail"}, /v2 paths {"error"}.
_EITHER: Any = ErrorDetail | OipError
_JOB_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": _EITHER, "description": "Jobs off (JOBS_ENABLED), or an unknown model"},
    503: {"model": _EITHER, **_UNAVAILABLE},
}


ERROR_RESPONSES = {
    **_errors(ErrorDetail, 422),
    400: {"model": ErrorDetail, "description": "Body is not JSON"},
}
OIP_ERROR_RESPONSES = {
    **_errors(OipError, 400),
    404: {"model": OipError, "description": "Unknown model"},
}


JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": _EITHER, "description": "Body is not JSON; (/v2) invalid input"},
    413: {"model": _EITHER, "description": "Body or rows over the job limits"},
    415: {"model": _EITHER, "description": "Not JSON: jobs take JSON bodies"},
    422: {"model": ErrorDetail, "description": "(/v1) invalid input; the message says what"},
    **_JOB_ERRORS,
}
JOB_STATUS_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDetail, "description": "Unknown, expired (JOB_RESULT_TTL_S) or jobs off"},
    503: {"model": ErrorDetail, **_UNAVAILABLE},
}


def json_body(schema_name: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def request_schemas(input_dim: int | None, max_rows: int) -> dict[str, Any]:
    number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
    row: dict[str, Any] = {"type": "array", "items": number}
    if input_dim:
        row |= {"minItems": input_dim, "maxItems": input_dim}
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": ["input-0"]},  # oip_codec.metadata's input
            "shape": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "prefixItems": [
                    {"type": "integer", "minimum": 1, "maximum": max_rows},
                    {"type": "integer", **({"const": input_dim} if input_dim else {})},
                ],
            },
            "datatype": {"type": "string", "enum": ["FP32"]},
            "data": {"type": "array", "items": {"anyOf": [number, row]}},
            "parameters": {"type": "object"},
        },
    }
    return {
        "PredictRequest": {
            "type": "object",
            "required": ["inputs"],
            "additionalProperties": False,
            "properties": {
                "inputs": {"type": "array", "items": row, "minItems": 1, "maxItems": max_rows}
            },
        },
        "InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": tensor, "minItems": 1, "maxItems": 1},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "enum": ["probabilities", "label"]}
                        },
                    },
                },
            },
        },
    }


def _pin_model_name(schema: dict[str, Any], name: str, version: str) -> None:
    """This server serves one model version: say so, so clients and fuzzers use the right path."""
    pinned = {"model_name": name, "model_version": version}
    for path in schema["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in pinned:
                    parameter["schema"]["enum"] = [pinned[parameter["name"]]]


def job_schemas(input_dim: int | None, job_max_rows: int) -> dict[str, Any]:
    """The job bodies: the sync routes' schemas with JOB_MAX_ROWS rows."""
    return {f"Job{name}": v for name, v in request_schemas(input_dim, job_max_rows).items()}


def install(app: FastAPI, model: Any, max_rows: int, job_max_rows: int | None = None) -> None:
    """`model` is a callable giving the loaded model or None: it exists only after the lifespan.

    `job_max_rows`: JOB_MAX_ROWS, when the job routes are served."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        loaded = model()
        input_dim = loaded.input_dim if loaded else None
        schemas = request_schemas(input_dim, max_rows)
        if job_max_rows is not None:
            schemas |= job_schemas(input_dim, job_max_rows)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        if loaded:
            _pin_model_name(schema, loaded.name, loaded.version)
            app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
