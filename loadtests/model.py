"""The served model as the load test and `helm test` learn it from the server at start.

Its name from `GET /info` (`model.name`) unless given, then its Open Inference Protocol
metadata from `GET /v2/models/{name}`: the inputs to send and the outputs to check, -1 for
a dynamic axis, the first axis the batch. Standard library only: the `helm test` pod runs
this without Locust.
"""

from __future__ import annotations

import http.client
import json
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

# struct codes of the protocol's fixed-size datatypes (little-endian on the wire); BYTES has
# none: each element is a 4-byte length, then its bytes.
STRUCT_CODES = {
    "BOOL": "?", "UINT8": "B", "UINT16": "H", "UINT32": "I", "UINT64": "Q",
    "INT8": "b", "INT16": "h", "INT32": "i", "INT64": "q",
    "FP16": "e", "FP32": "f", "FP64": "d",
}  # fmt: skip
DATATYPES = frozenset({*STRUCT_CODES, "BYTES"})
# Tries of the start-up reads, RETRY_S apart: a pod may flip while the run begins.
ATTEMPTS = 5
RETRY_S = 2.0


class StartError(Exception):
    """Why a run cannot start: one message for the log, no traceback."""


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]  # the metadata's; -1 is dynamic, [0] the batch

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    def batch_shape(self, rows: int) -> list[int]:
        """The shape an answer must have for `rows` rows: the batch filled, -1 stays."""
        return [rows if i == 0 and d == -1 else d for i, d in enumerate(self.shape)]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Model:
    name: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]

    @property
    def takes_v1(self) -> bool:
        """`/v1/predict` takes rows of one input: only a model with one rank-2 input has them."""
        return len(self.inputs) == 1 and len(self.inputs[0].shape) == 2

    def output(self, name: str) -> Tensor | None:
        return next((o for o in self.outputs if o.name == name), None)


def parse_metadata(doc: Any, where: str = "model metadata") -> Model:
    """A `GET /v2/models/{name}` answer -> Model, refusing what cannot be loaded against."""
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise StartError(f"{where}: not an object with a 'name'")
    inputs = _tensors(doc.get("inputs"), f"{where} inputs")
    outputs = _tensors(doc.get("outputs"), f"{where} outputs")
    if not inputs or not outputs:
        raise StartError(f"{where}: the model lists no inputs or no outputs")
    for tensor in inputs:
        if not tensor.shape:
            raise StartError(f"{where}: input {tensor.name!r} has no batch axis (shape [])")
    return Model(doc["name"], tuple(inputs), tuple(outputs))


def _tensors(items: Any, where: str) -> list[Tensor]:
    if not isinstance(items, list):
        raise StartError(f"{where}: not a list")
    tensors = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        datatype, shape = (item.get("datatype"), item.get("shape")) if name else (None, None)
        if not isinstance(name, str) or datatype not in DATATYPES:
            raise StartError(f"{where}: {item!r} has no name or an unknown datatype")
        if not isinstance(shape, list) or not all(type(d) is int and d >= -1 for d in shape):
            raise StartError(f"{where}: {name!r} has shape {shape!r}, not a list of ints")
        tensors.append(Tensor(name, datatype, tuple(shape)))
    return tensors


def elements(shape: list[int] | tuple[int, ...]) -> int:
    return math.prod(shape)


class Server:
    """One keep-alive connection to the service for the start-up reads (a load test counts
    connections: it opens one, not one per read)."""

    def __init__(self, base_url: str, timeout_s: float = 10) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StartError(f"{base_url!r} is not an http(s) URL of the service")
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.base = parts.path.rstrip("/")
        self.connection = kind(parts.hostname, parts.port, timeout=timeout_s)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON or None); connection errors raise OSError."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.connection.request(method, self.base + path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # the next try reconnects
            raise OSError(f"{method} {path}: {error}") from None
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def get(self, path: str) -> Any:
        """The JSON answer of a GET that must succeed, tried ATTEMPTS times."""
        reason = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(RETRY_S)
            try:
                status, doc = self.request("GET", path)
            except OSError as error:
                reason = str(error)
                continue
            if status == 200 and doc is not None:
                return doc
            reason = f"GET {path}: HTTP {status}"
            if status in (400, 404):
                raise StartError(f"{reason}: {doc!r}")  # asking again will not help
        raise StartError(reason)

    def close(self) -> None:
        self.connection.close()


def learn(server: Server, name: str = "") -> Model:
    """The served model: `name` (MODEL_NAME) or the one `/info` names, then its metadata."""
    if not name:
        info = server.get("/info")
        found = (info.get("model") or {}).get("name") if isinstance(info, dict) else None
        if not isinstance(found, str) or not found:
            raise StartError("GET /info names no model.name: set MODEL_NAME")
        name = found
    path = f"/v2/models/{quote(name, safe='')}"
    return parse_metadata(server.get(path), f"GET {path}")
