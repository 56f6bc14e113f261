"""The job API: submit a predict or infer body to run later, read the job back.

    POST /v1/jobs                                           body as /v1/predict
    POST /v2/models/{name}[/versions/{version}]/jobs        body as /v2 infer (JSON)
    GET  /v1/jobs/{id}

A body is read within the worker's job gate (one at a time, the job body limit) and
validated with the sync route's own decoder, so a bad one gets the same 4xx and nothing
invalid is queued. 202 + Location once queued. Off (JOBS_ENABLED=false): 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.jobs.client import JobClient, JobsUnavailable
from service.jobs.record import not_found, parse_id
from service.protocol import oip_infer, predict
from service.protocol.errors import InputError
from service.protocol.oip_binary import BINARY_MEDIA
from service.web.body import HEADER_LENGTH, BodyPolicy, read_infer_body, read_json_body
from service.web.openapi_docs import JOB_RESPONSES, JOB_STATUS_RESPONSES, JobAccepted, JobStatus
from service.web.openapi_docs import json_body as schema_body
from service.web.responses import json_response
from service.web.runtime import runtime_of

router = APIRouter(tags=["jobs"])
ROWS_SETTING = "JOB_MAX_ROWS"
OFF = "jobs are off on this server: set JOBS_ENABLED=true and REDIS_URL (the chart's jobs.enabled)"


@dataclass
class Jobs:
    """A worker's job queue client and its job body gate (made by the lifespan)."""

    client: JobClient
    policy: BodyPolicy


def _jobs(request: Request) -> Jobs:
    jobs: Jobs | None = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise InputError(404, OFF)
    return jobs


async def _queue(jobs: Jobs, kind: str, body: bytes, name: str, version: str | None) -> Response:
    try:
        job_id = await jobs.client.submit(kind, body.decode(), name, version)
    except JobsUnavailable as exc:
        raise InputError(503, str(exc), {"Retry-After": str(exc.retry_after_s)}) from None
    location = f"/v1/jobs/{job_id}"
    return json_response({"id": job_id, "status": "queued"}, 202, {"Location": location})


SUBMIT: dict[str, Any] = {
    "status_code": 202,
    "response_model": JobAccepted,
    "responses": JOB_RESPONSES,
    "description": "Validated as the sync route validates, with JOB_MAX_ROWS rows and the job"
    " body limit; queued, then run by a job worker (at least once). Poll the Location.",
}


@router.post(
    "/v1/jobs",
    summary="Submit a predict job",
    openapi_extra=schema_body("JobPredictRequest"),
    **SUBMIT,
)
async def submit_predict(request: Request) -> Response:
    jobs = _jobs(request)
    rt = runtime_of(request)
    model, _ = rt.serving
    predict.width(model)
    body = await read_json_body(request, jobs.policy)
    predict.decode(body, model, rt.settings.job_max_rows, ROWS_SETTING)  # refuses, or queue it
    return await _queue(jobs, "predict", body, model.name, None)


async def _submit_infer(request: Request, name: str, version: str | None) -> Response:
    jobs = _jobs(request)
    rt = runtime_of(request)
    model, _ = rt.serving
    oip_infer.check_served(model, name, version)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if HEADER_LENGTH in request.headers or media == BINARY_MEDIA:
        raise InputError(
            415,
            "jobs take JSON bodies: send the tensors as JSON 'data' (the binary tensor data"
            " extension is for /infer)",
        )
    body = await read_infer_body(request, jobs.policy)
    decoded = oip_infer.decode(body, model, rt.settings.job_max_rows)
    if any(binary for _, binary in decoded.outputs):
        raise InputError(
            400, "jobs answer JSON: drop parameters.binary_data_output and binary_data"
        )
    return await _queue(jobs, "infer", body.header, name, version)


INFER_JOB = {**SUBMIT, "openapi_extra": schema_body("JobInferRequest")}


@router.post("/v2/models/{model_name}/jobs", summary="Submit an infer job", **INFER_JOB)
async def submit_infer(model_name: str, request: Request) -> Response:
    return await _submit_infer(request, model_name, None)


@router.post(
    "/v2/models/{model_name}/versions/{model_version}/jobs",
    summary="Submit an infer job for a model version",
    **INFER_JOB,
)
async def submit_version_infer(model_name: str, model_version: str, request: Request) -> Response:
    return await _submit_infer(request, model_name, model_version)


@router.get(
    "/v1/jobs/{job_id}",
    summary="A job's status, and its result once it succeeded",
    response_model=JobStatus,
    responses=JOB_STATUS_RESPONSES,
)
async def get_job(job_id: str, request: Request) -> Response:
    jobs = _jobs(request)
    canonical = parse_id(job_id)
    try:
        answer = await jobs.client.status(canonical) if canonical else None
    except JobsUnavailable as exc:
        raise InputError(503, str(exc), {"Retry-After": str(exc.retry_after_s)}) from None
    if answer is None:
        raise InputError(404, not_found(job_id, jobs.client.settings.job_result_ttl_s))
    return json_response(answer)
