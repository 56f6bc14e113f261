"""The Open Inference Protocol's binary tensor data extension, as bytes on the wire.

A request body is a JSON header, optionally followed by raw tensors; the header's length is
in `Inference-Header-Content-Length`. Without that header the whole body is JSON, whatever
its Content-Type (the protocol requires none; tritonclient sends none). Responses carry
binary outputs after their JSON header the same way.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from service.protocol.errors import InputError

# Media types a v2 body may declare; no Content-Type at all is JSON too.
JSON_MEDIA = ("application/json",)
BINARY_MEDIA = "application/octet-stream"
# zlib window bits: 16+ reads a gzip wrapper, the plain value reads zlib ("deflate" in HTTP).
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class Body:
    header: bytes  # the JSON part
    tail: memoryview  # the binary tensors after it (empty for a JSON-only body)
    binary: bool  # Inference-Header-Content-Length was sent


def split(body: bytes, declared_header: str | None) -> Body:
    """The body cut at Inference-Header-Content-Length (absent: all of it is JSON)."""
    if declared_header is None:
        return Body(body, memoryview(b""), binary=False)
    length = _header_length(declared_header, len(body))
    view = memoryview(body)
    return Body(bytes(view[:length]), view[length:], binary=True)


def check_media(content_type: str, binary: bool) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or media in JSON_MEDIA or media.endswith("+json"):
        return
    if media == BINARY_MEDIA:
        if binary:
            return
        raise InputError(
            400,
            "an application/octet-stream body is the binary tensor data extension: it needs"
            " the Inference-Header-Content-Length header (the JSON header's length in bytes)",
        )
    raise InputError(
        415,
        f"Content-Type must be application/json, application/octet-stream (binary tensors)"
        f" or absent, got {content_type!r}",
    )


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ENCODINGS:
        raise InputError(
            415, f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none"
        )
    inflater = zlib.decompressobj(ENCODINGS[encoding])
    try:
        # max_length bounds the output: a small bomb cannot inflate past the body limit.
        plain = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise InputError(400, f"body is not valid {encoding} data: {exc}") from None
    if len(plain) > max_bytes or inflater.unconsumed_tail:
        raise InputError(413, f"decompressed body exceeds MAX_BODY_BYTES={max_bytes}")
    if not inflater.eof:
        raise InputError(400, f"body is truncated {encoding} data")
    return plain


def _header_length(value: str, body_size: int) -> int:
    value = value.strip()
    if not value.isdigit():
        raise InputError(
            400, f"Inference-Header-Content-Length must be a byte count, got {value!r}"
        )
    length = int(value)
    if length > body_size:
        raise InputError(
            400,
            f"truncated body: Inference-Header-Content-Length says the JSON header has"
            f" {length} bytes but the body has only {body_size}",
        )
    return length


def take(tail: memoryview, offset: int, size: int, name: str) -> memoryview:
    """The `size` bytes of input `name` at `offset` in the binary part."""
    if offset + size > len(tail):
        raise InputError(
            400,
            f"truncated binary data: input {name!r} declares binary_data_size={size} at byte"
            f" {offset} of the binary part, which has only {len(tail)} bytes",
        )
    return tail[offset : offset + size]


def check_consumed(tail: memoryview, used: int) -> None:
    if used != len(tail):
        raise InputError(
            400,
            f"overlong binary data: the inputs' binary_data_size add up to {used} bytes but"
            f" {len(tail)} bytes follow the JSON header",
        )


def bytes_tensor(values: list[str]) -> bytes:
    """BYTES elements as the extension lays them out: 4-byte little-endian length, then bytes."""
    encoded = [v.encode() for v in values]
    return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
