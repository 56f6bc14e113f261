"""The Locust user's binary-tensor request and its answer check, against the app itself."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from serving import holdout

from loadtests import answers
from service.app import create_app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def post(client: TestClient, rows: int) -> tuple[int, bytes, str | None, list[str]]:
    inputs, labels = holdout()
    body, headers = answers.v2_binary_body(inputs[:rows])
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


def test_real_binary_answers_pass_the_check(client: TestClient) -> None:
    status, content, length, expected = post(client, 4)
    assert status == 200
    outcome = answers.check_v2_binary(status, content, length, expected)
    assert outcome.error is None and outcome.wrong <= 1
    assert answers.check_v2_binary(status, content, length, ["x"] * 4).wrong == 4


def test_broken_binary_answers_are_failures(client: TestClient) -> None:
    status, content, length, expected = post(client, 2)
    assert length is not None
    check = answers.check_v2_binary
    assert check(status, content, None, expected).error.startswith("malformed: no Inference")
    assert check(status, content[:-1], length, expected).error.startswith("malformed")
    assert check(status, content + b"\0", length, expected).error.startswith("malformed")
    assert check(status, content, length, expected[:1]).error.startswith("malformed")
    assert check(status, content, str(int(length) - 1), expected).error.startswith("malformed")
    assert check(503, b'{"error": "busy"}', None, expected).error.startswith("shed")
    assert check(0, b"", None, expected).error.startswith("no response")
