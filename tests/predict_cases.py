"""Bad /v1/predict bodies and the refusal each gets: one table for every route that takes
that body (/v1/predict, /v1/jobs), in process and live.

Sized for app_client.SETTINGS' limits (LIMITS_ENV: 32 rows, a 64 KiB body); a job route
under the same limits (JOB_LIMITS_ENV) must refuse each with the same status and words.
"""

from __future__ import annotations

import json

from app_client import DIM, features

LIMITS_ENV = {"MAX_ROWS_PER_REQUEST": "32", "MAX_QUEUE_ROWS": "64", "MAX_BODY_BYTES": "65536"}
JOB_LIMITS_ENV = {"JOB_MAX_ROWS": "32", "JOB_MAX_BODY_BYTES": "65536"}


def as_json(payload: object) -> bytes:
    return json.dumps(payload).encode()


ROW = features()
LONG_ROW = [*ROW, 1.0]
JSON = "application/json"
BAD_V1 = [
    # (body bytes, content type, status, words the message must contain)
    (b"{not json", JSON, 400, "not valid JSON"),
    (b'{"inputs": [[NaN]]}', JSON, 400, "NaN and Infinity"),
    (as_json({"inputs": [ROW]}), "text/plain", 415, "Content-Type"),
    (as_json({"inputs": [ROW]}), "", 415, "Content-Type"),
    (as_json([ROW]), JSON, 422, "JSON object"),
    (as_json({"input": [ROW]}), JSON, 422, "unknown field"),
    (as_json({}), JSON, 422, "missing field 'inputs'"),
    (as_json({"inputs": []}), JSON, 422, "empty"),
    (as_json({"inputs": ROW}), JSON, 422, "wrap a single row"),
    (as_json({"inputs": [LONG_ROW]}), JSON, 422, f"must have {DIM} numbers, got {DIM + 1}"),
    (as_json({"inputs": [ROW, ROW[:10]]}), JSON, 422, "ragged"),
    (as_json({"inputs": [["a"] * DIM]}), JSON, 422, "strings"),
    (as_json({"inputs": [[None] * DIM]}), JSON, 422, "nulls"),
    (as_json({"inputs": [[True] * DIM]}), JSON, 422, "booleans"),
    (as_json({"inputs": [[*ROW[:-1], True]]}), JSON, 422, "booleans"),
    (as_json({"inputs": [[*ROW[:-1], 1e39]]}), JSON, 422, "finite float32"),
    (as_json({"inputs": [[*ROW[:-1], 1e400]]}), JSON, 400, "not valid JSON"),
    (as_json({"inputs": [[[1.0] * DIM]]}), JSON, 422, "nesting"),
    (as_json({"inputs": [ROW] * 33}), JSON, 422, "at most 32"),
    # Deep nesting is refused before parsing: more lists than rows allow (was orjson's 400).
    (b"[" * 5000 + b"]" * 5000, JSON, 413, "JSON lists/objects"),
    (as_json({"inputs": [features(123456.0)] * 30, "pad": "x" * 70000}), JSON, 413,
     "MAX_BODY_BYTES"),
]  # fmt: skip
