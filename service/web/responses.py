"""Answers as Starlette responses: JSON through orjson, binary tensors after their header."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from service.protocol.oip_binary import BINARY_MEDIA
from service.protocol.rows import encode


def json_response(
    payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encode(payload), status, headers, media_type="application/json")


def binary_response(header: bytes, parts: list[bytes]) -> Response:
    """The binary tensor data extension: the JSON header's length in its own header."""
    return Response(
        header + b"".join(parts),
        headers={"Inference-Header-Content-Length": str(len(header))},
        media_type=BINARY_MEDIA,
    )
