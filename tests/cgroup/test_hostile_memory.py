"""Memory per request is bounded by construction: the largest body of every shape the limits
admit, measured in-process against BODY_EXPANSION, and eight at once against real gunicorn
in a cgroup whose memory limit equals the plan: no OOM kill, no worker restart, no 5xx."""

from __future__ import annotations

import contextlib
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
from serving import run_service

from service.protocol import rows as codec
from service.protocol.errors import InputError
from service.protocol.rows import decode_predict
from service.settings import Settings
from service.sizing.formula import BODY_EXPANSION, DEFAULT_BODY_BYTES, largest_body_bytes
from service.sizing.planning import plan_for

ROWS, DIM = 256, 64
LIMIT = largest_body_bytes(ROWS, DIM)
WIDEST = b"-1.2345678901234567e-308"  # finite in float64, 0.0 in float32: accepted
MOST_CONTAINERS = 2 * ROWS + codec.CONTAINER_SLACK
MOST_VALUES = 2 * (ROWS * DIM + ROWS) + codec.CONTAINER_SLACK


def _pad(body: bytes) -> bytes:
    """Whitespace up to the body limit: the bytes are admitted, they build nothing."""
    assert len(body) <= LIMIT, len(body)
    return body[:-1] + b" " * (LIMIT - len(body)) + body[-1:]


def _binary_tensor() -> tuple[bytes, dict[str, str]]:
    """The binary tensor data extension: a JSON header, then 256 x 64 raw float32, padded to
    the body limit in the header (whitespace, building nothing)."""
    data = b"\0" * (ROWS * DIM * 4)
    tensor = {"name": "input-0", "shape": [ROWS, DIM], "datatype": "FP32",
              "parameters": {"binary_data_size": len(data)}}  # fmt: skip
    header = orjson.dumps({"inputs": [tensor]})
    header = header[:-1] + b" " * (LIMIT - len(header) - len(data)) + header[-1:]
    return header + data, {"inference-header-content-length": str(len(header))}


def shapes() -> dict[str, tuple[str, bytes, int]]:
    """name -> (path, the largest body of that shape the limits admit, expected status)."""
    row = b"[" + b", ".join([WIDEST] * DIM) + b"]"
    floats = b'{"inputs":[' + b", ".join([row] * ROWS) + b"]}"
    tensor = {"name": "input-0", "shape": [ROWS, DIM], "datatype": "FP32", "data": [0.0]}
    v2 = orjson.dumps({"inputs": [tensor]}).replace(
        b"[0.0]", b"[" + b", ".join([WIDEST] * ROWS * DIM) + b"]"
    )
    tiny_rows = b'{"inputs":[' + b",".join([b"[0]"] * (MOST_CONTAINERS - 2)) + b"]}"
    strings = b'{"inputs":[[' + b",".join([b'"a"'] * (MOST_VALUES - 1)) + b"]]}"
    depth = MOST_CONTAINERS - 1
    deep = b'{"inputs":' + b"[" * depth + b"0" + b"]" * depth + b"}"
    wide_string = '{"inputs":[["\U0001f600'.encode() + b"a" * (LIMIT - 40) + b'"]]}'
    keys = b'{"inputs":[[0]],' + b",".join(b'"k%d":0' % i for i in range(MOST_VALUES - 2)) + b"}"
    return {
        "floats": ("/v1/predict", _pad(floats), 200),
        "v2-floats": ("/v2/models/digits-mlp/infer", _pad(v2), 200),
        "v2-binary": ("/v2/models/digits-mlp/infer", _binary_tensor()[0], 200),
        "tiny-rows": ("/v1/predict", _pad(tiny_rows), 422),
        "tiny-strings": ("/v1/predict", _pad(strings), 422),
        "deep-nesting": ("/v1/predict", _pad(deep), 422),
        "wide-string": ("/v1/predict", _pad(wide_string), 422),
        "many-keys": ("/v1/predict", _pad(keys), 422),
    }


SHAPES = shapes()
BINARY_BODY = SHAPES["v2-binary"][1]
BINARY_HEADERS = _binary_tensor()[1]


def test_every_shape_is_as_large_as_the_limit_admits() -> None:
    assert LIMIT == DEFAULT_BODY_BYTES
    for name, (_, body, _) in SHAPES.items():
        assert LIMIT - 4096 <= len(body) <= LIMIT, (name, len(body))


@pytest.mark.parametrize("name", [n for n in SHAPES if not n.startswith("v2")])
def test_parsing_the_largest_body_stays_within_body_expansion(name: str) -> None:
    """What one parse slot costs beyond its body: parse + decode of v1, traced."""
    _, body, _ = SHAPES[name]
    tracemalloc.start()
    try:
        codec.check_structure(body, ROWS, ROWS * DIM)
        numbers_only = codec.only_numbers(body)
        with contextlib.suppress(InputError):
            decode_predict(
                codec.parse_json(body),
                DIM,
                ROWS,
                scan_bools=not numbers_only and codec.may_hold_bools(body),
                numbers_only=numbers_only,
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{name}: parse peak {peak / 2**20:.2f} MiB = {peak / LIMIT:.1f}x the body limit")
    assert peak <= (BODY_EXPANSION - 1) * LIMIT  # -1: the joined body copy is the last one


def test_eight_concurrent_maximal_requests_of_every_shape_in_the_planned_memory() -> None:
    plan = plan_for(Settings())
    env = {"MAX_QUEUE_ROWS": "2048"}  # 8 x 256 rows all queue: every request gets its answer
    with run_service(env, cpu_quota=2.0, memory_mib=plan.memory_mib, wait_workers=2) as svc:
        assert svc.cgroup is not None
        pids = sorted(svc.worker_pids())
        with httpx.Client(base_url=svc.url, timeout=60) as http, ThreadPoolExecutor(8) as pool:
            for name, (path, body, expected) in SHAPES.items():

                def post(_: int, path: str = path, body: bytes = body) -> int:
                    headers = {"content-type": "application/json"}
                    if body is BINARY_BODY:
                        headers = {"content-type": "application/octet-stream", **BINARY_HEADERS}
                    return http.post(path, content=body, headers=headers).status_code

                for _ in range(3):
                    statuses = list(pool.map(post, range(8)))
                    assert statuses == [expected] * 8, (name, statuses)
            # The attack: 4 MiB of empty rows, 36x its size once parsed. Refused unread.
            empty_rows = b'{"inputs":[' + b"[]," * (4 * 2**20 // 3 - 8) + b"[]]}"
            statuses = list(pool.map(lambda _: post(0, "/v1/predict", empty_rows), range(8)))
            assert statuses == [413] * 8
        assert svc.cgroup is not None
        memory = svc.cgroup.stats().memory()  # the one cgroup reader (service.sizing.cgroups)
        peak = memory["peak_mib"]
        print(f"peak {peak:.0f} MiB of the planned {plan.memory_mib} MiB (cgroup limit)")
        assert memory["oom_kills"] == 0
        assert sorted(svc.worker_pids()) == pids  # no worker was killed and restarted
        assert "Traceback" not in svc.log()
