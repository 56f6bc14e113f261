"""service/protocol/oip_binary.py's functions on bytes: the body cut at its JSON header, the
media types, bounded decompression, FP32 slices of the binary part and the BYTES layout.

(tests/live/test_oip_binary.py sends such bodies over HTTP to the real service.)"""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from service.protocol import oip_binary
from service.protocol.errors import InputError

BODY = b'{"inputs": []}' + struct.pack("<3f", 1.0, 2.0, 3.0)


def test_without_the_length_header_the_whole_body_is_json() -> None:
    body = oip_binary.split(BODY, None)

    assert (body.header, bytes(body.tail), body.binary) == (BODY, b"", False)


@pytest.mark.parametrize("declared", ["14", " 14 "])
def test_the_body_is_cut_at_the_declared_header_length(declared: str) -> None:
    body = oip_binary.split(BODY, declared)

    assert body.header == b'{"inputs": []}' and body.binary
    assert np.frombuffer(body.tail, "<f4").tolist() == [1.0, 2.0, 3.0]


def test_a_header_as_long_as_the_body_leaves_no_binary_part() -> None:
    body = oip_binary.split(BODY, str(len(BODY)))

    assert body.header == BODY and len(body.tail) == 0 and body.binary


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        ("-3", "must be a byte count, got '-3'"),
        ("1e3", "must be a byte count"),
        ("", "must be a byte count, got ''"),
        (str(len(BODY) + 1), f"says the JSON header has {len(BODY) + 1} bytes but the body has"),
    ],
)
def test_a_bad_declared_length_is_refused_with_400(declared: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as error:
        oip_binary.split(BODY, declared)

    assert error.value.status == 400


@pytest.mark.parametrize(
    ("content_type", "binary"),
    [
        ("", False),
        ("application/json", False),
        ("Application/JSON; charset=utf-8", False),
        ("application/vnd.kserve+json", False),
        ("application/json", True),
        ("application/octet-stream", True),
    ],
)
def test_json_media_or_octet_stream_with_binary_tensors_is_accepted(
    content_type: str, binary: bool
) -> None:
    oip_binary.check_media(content_type, binary)  # no InputError


def test_octet_stream_without_the_length_header_is_400_naming_the_header() -> None:
    with pytest.raises(InputError, match="needs the Inference-Header-Content-Length") as error:
        oip_binary.check_media("application/octet-stream", False)

    assert error.value.status == 400


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x"])
def test_other_media_types_are_415_naming_what_was_sent(content_type: str) -> None:
    with pytest.raises(InputError, match="Content-Type must be") as error:
        oip_binary.check_media(content_type, True)

    assert error.value.status == 415 and repr(content_type) in error.value.message


@pytest.mark.parametrize("encoding", ["", "identity", " Identity "])
def test_an_uncompressed_body_is_passed_through(encoding: str) -> None:
    assert oip_binary.decompress(BODY, encoding, 16) is BODY  # the limit was checked on read


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), (" GZip ", gzip.compress)],
)
def test_gzip_and_deflate_bodies_are_inflated(
    encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    assert oip_binary.decompress(compress(BODY), encoding, len(BODY)) == BODY


def test_a_body_inflating_past_the_limit_is_413() -> None:
    with pytest.raises(InputError, match=f"exceeds MAX_BODY_BYTES={len(BODY) - 1}") as error:
        oip_binary.decompress(gzip.compress(BODY), "gzip", len(BODY) - 1)

    assert error.value.status == 413


def test_a_compression_bomb_is_refused_without_being_inflated() -> None:
    packer = zlib.compressobj()
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush()  # 64 MiB
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as error:
            oip_binary.decompress(bomb, "deflate", 4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.value.status == 413
    assert peak < 1 << 20  # the limit bounded what was inflated, far below the bomb's 64 MiB


@pytest.mark.parametrize("cut", [4, 40])
def test_a_truncated_stream_is_400(cut: int) -> None:
    whole = gzip.compress(BODY * 4)

    with pytest.raises(InputError, match="body is truncated gzip data") as error:
        oip_binary.decompress(whole[:-cut], "gzip", 4096)

    assert error.value.status == 400


def test_data_not_in_the_declared_encoding_is_400_naming_it() -> None:
    with pytest.raises(InputError, match="body is not valid deflate data") as error:
        oip_binary.decompress(gzip.compress(BODY), "deflate", 4096)  # gzip sent as deflate

    assert error.value.status == 400


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, deflate"])
def test_an_unknown_encoding_is_415_naming_it(encoding: str) -> None:
    with pytest.raises(InputError, match="use gzip, deflate or none") as error:
        oip_binary.decompress(BODY, encoding, 4096)

    assert error.value.status == 415 and repr(encoding) in error.value.message


def test_take_cuts_the_inputs_bytes_at_its_offset() -> None:
    tail = memoryview(struct.pack("<4f", 1.5, -2.0, 3.25, 4.0))

    assert oip_binary.take(tail, 4, 8, "input-0").cast("f").tolist() == [-2.0, 3.25]
    assert len(oip_binary.take(tail, 0, 16, "input-0")) == 16


def test_take_past_the_binary_part_is_400_naming_the_input_and_sizes() -> None:
    tail = memoryview(bytes(8))

    with pytest.raises(InputError) as error:
        oip_binary.take(tail, 4, 8, "input-0")

    assert error.value.status == 400
    assert error.value.message == (
        "truncated binary data: input 'input-0' declares binary_data_size=8 at byte 4 of the"
        " binary part, which has only 8 bytes"
    )


def test_check_consumed_accepts_exactly_the_declared_bytes() -> None:
    oip_binary.check_consumed(memoryview(bytes(12)), 12)  # no InputError


@pytest.mark.parametrize(("size", "used"), [(12, 8), (0, 4)])
def test_bytes_left_over_or_missing_are_400_overlong(size: int, used: int) -> None:
    with pytest.raises(InputError, match=f"up to {used} bytes but {size} bytes follow") as error:
        oip_binary.check_consumed(memoryview(bytes(size)), used)

    assert error.value.status == 400


def test_bytes_tensor_prefixes_each_utf8_element_with_its_byte_length() -> None:
    layout = oip_binary.bytes_tensor(["", "é"])

    assert layout == b"\x00\x00\x00\x00" + b"\x02\x00\x00\x00" + "é".encode()
    assert oip_binary.bytes_tensor([]) == b""
