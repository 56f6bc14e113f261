"""The Locust user's binary-tensor request and its answer check, against the real service."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import httpx
import pytest
from serving import holdout, run_service

from loadtests import answers


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with run_service() as svc, httpx.Client(base_url=svc.url) as c:
        yield c


def post(client: httpx.Client, rows: int) -> tuple[int, bytes, str | None, list[str]]:
    inputs, labels = holdout()
    body, headers = answers.v2_binary_body([[float(x) for x in row] for row in inputs[:rows]])
    response = client.post(answers.V2_PATH, content=body, headers=headers)
    return (
        response.status_code,
        response.content,
        response.headers.get(answers.HEADER_LENGTH),
        labels[:rows],
    )


def test_binary_body_layout() -> None:
    body, headers = answers.v2_binary_body([[1.0, 2.5]])
    split = int(headers[answers.HEADER_LENGTH])
    header = json.loads(body[:split])
    assert header["inputs"][0]["parameters"] == {"binary_data_size": 8}
    assert header["parameters"] == {"binary_data_output": True}
    assert struct.unpack("<2f", body[split:]) == (1.0, 2.5)


def test_real_binary_answers_pass_the_check(client: httpx.Client) -> None:
    status, content, length, expected = post(client, 4)
    assert status == 200
    outcome = answers.check_v2_binary(status, content, length, expected)
    assert outcome.error is None and outcome.wrong <= 1
    assert answers.check_v2_binary(status, content, length, ["x"] * 4).wrong == 4


def test_broken_binary_answers_are_failures(client: httpx.Client) -> None:
    status, content, length, expected = post(client, 2)
    assert length is not None

    def check(status: int, content: bytes, length: str | None, expected: list[str]) -> str:
        return str(answers.check_v2_binary(status, content, length, expected).error)

    assert check(status, content, None, expected).startswith("malformed: no Inference")
    assert check(status, content[:-1], length, expected).startswith("malformed")
    assert check(status, content + b"\0", length, expected).startswith("malformed")
    assert check(status, content, length, expected[:1]).startswith("malformed")
    assert check(status, content, str(int(length) - 1), expected).startswith("malformed")
    assert check(503, b'{"error": "busy"}', None, expected).startswith("shed")
    assert check(0, b"", None, expected).startswith("no response")
