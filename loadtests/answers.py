"""Answer checks for `/v1/predict` and the Open Inference Protocol, against the model's metadata.

A check returns an `Outcome`: `error` set means the request failed (wrong status, shed,
malformed answer); `wrong` counts rows whose label differs from the samples' one, which is
the model's accuracy, not the service's health, so it is reported apart from failures.

Every output the metadata lists must come back once, with its datatype and its shape: the
batch axis the rows sent, the fixed axes as listed, a dynamic (-1) axis any size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loadtests import wire
from loadtests.model import Model, Tensor, elements
from loadtests.samples import Batch, flatten, label_text


@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    wrong: int = 0


def check_status(status: int) -> str | None:
    if status == 200:
        return None
    if status == 503:
        return "shed: 503 (queue full)"
    if status == 504:
        return "deadline: 504"
    if status == 0:
        return "no response (connection error)"
    return f"HTTP {status}"


def naming_the_answer(error: str, body: bytes) -> str:
    """An unexpected status's error with the start of its body, which names who answered
    (a server that is not corebound says so in its own words) and why."""
    if not error.startswith("HTTP ") or not body:
        return error
    return f"{error}: {' '.join(body[:240].decode('utf-8', 'replace').split())[:80]}"


def is_element(value: Any, datatype: str) -> bool:
    """Whether an answer's JSON value is one element of `datatype` (true is no number)."""
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (datatype.startswith("FP") and isinstance(value, float))


def matches(shape: Any, want: list[int]) -> bool:
    """An answer's shape against the wanted one (-1: any size)."""
    return (
        isinstance(shape, list)
        and len(shape) == len(want)
        and all(
            type(g) is int and g >= 0 and w in (-1, g) for w, g in zip(want, shape, strict=True)
        )
    )


def _nested_shape(value: Any) -> list[int] | None:
    """The shape of a nested list of scalars; None when ragged."""
    if not isinstance(value, list):
        return []
    inner = [_nested_shape(v) for v in value]
    if any(s is None or s != inner[0] for s in inner):
        return None
    return [len(value), *(inner[0] or [])] if inner else [0]


@dataclass(frozen=True)
class Checker:
    """The checks of one model's answers; `label_output` holds the label of each row."""

    model: Model
    label_output: str | None = None

    def v1(self, status: int, body: Any, batch: Batch) -> Outcome:
        """`{"outputs": [one entry per row], "labels": [one per row]}`.

        An entry is the row of the model's scores: its one numeric output besides the label
        output, in that output's shape past the batch (with several, only the count is
        checked). `labels` needs one per row when the model has a label output; without
        one it may be missing or empty.
        """
        if (error := check_status(status)) is not None:
            return Outcome(error=error)
        if not isinstance(body, dict):
            return Outcome(error="malformed: body is not a JSON object")
        n, outputs, labels = batch.rows, body.get("outputs"), body.get("labels")
        if not isinstance(outputs, list) or len(outputs) != n:
            return Outcome(error=f"malformed: 'outputs' is not {n} rows")
        scores = [
            o for o in self.model.outputs if o.datatype != "BYTES" and o.name != self.label_output
        ]
        if len(scores) == 1:
            want, kind = list(scores[0].row_shape), scores[0].datatype
            for row in outputs:
                if not matches(_nested_shape(row), want) or not all(
                    is_element(v, kind) for v in flatten(row)
                ):
                    return Outcome(error=f"malformed: an output row is not {want} {kind}")
        optional = self.label_output is None and batch.labels is None
        if not (optional and labels in (None, [])) and (
            not isinstance(labels, list)
            or len(labels) != n
            or not all(isinstance(x, str | int | float | bool) for x in labels)
        ):
            return Outcome(error=f"malformed: 'labels' is not {n} labels")
        return Outcome(wrong=_count_wrong(labels, batch.labels))

    def v2(self, status: int, body: Any, batch: Batch) -> Outcome:
        if (error := check_status(status)) is not None:
            return Outcome(error=error)
        if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
            return Outcome(error="malformed: no 'outputs' list")
        values: dict[str, list[Any]] = {}
        for got in body["outputs"]:
            tensor = self._tensor(got, batch.rows)
            if isinstance(tensor, str):
                return Outcome(error=tensor)
            data = flatten(got["data"]) if isinstance(got.get("data"), list) else None
            count, kind = elements(got["shape"]), tensor.datatype
            if data is None or len(data) != count or not all(is_element(v, kind) for v in data):
                return Outcome(
                    error=f"malformed: output {tensor.name!r} data is not {count} {kind} values"
                )
            values[tensor.name] = data
        return self._complete(body, values, batch)

    def v2_binary(
        self, status: int, content: bytes, header_length: str | None, batch: Batch
    ) -> Outcome:
        """A JSON header, then each output's raw elements in the header's order."""
        if (error := check_status(status)) is not None:
            return Outcome(error=error)
        if header_length is None or not header_length.isdigit():
            return Outcome(error=f"malformed: no {wire.HEADER_LENGTH} response header")
        split = int(header_length)
        try:
            header = json.loads(content[:split])
            sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
        except (ValueError, KeyError, TypeError):
            return Outcome(error="malformed: binary answer's JSON header")
        raw = content[split:]
        if not all(type(s) is int and s >= 0 for s in sizes) or sum(sizes) != len(raw):
            return Outcome(error=f"malformed: {len(raw)} binary bytes, header says {sizes}")
        values: dict[str, list[Any]] = {}
        offset = 0
        for got, size in zip(header["outputs"], sizes, strict=True):
            tensor = self._tensor(got, batch.rows)
            if isinstance(tensor, str):
                return Outcome(error=tensor)
            data = wire.unpack(tensor.datatype, raw[offset : offset + size])
            offset += size
            if data is None or len(data) != elements(got["shape"]):
                return Outcome(error=f"malformed: binary output {tensor.name!r} for {got['shape']}")
            values[tensor.name] = data
        return self._complete(header, values, batch)

    def _tensor(self, got: Any, rows: int) -> Tensor | str:
        """The metadata of an answer's output tensor, or why the tensor is malformed."""
        name = got.get("name") if isinstance(got, dict) else None
        spec = self.model.output(name) if isinstance(name, str) else None
        if spec is None:
            return f"malformed: output {name!r} is not one of the model's"
        if got.get("datatype") != spec.datatype:
            return (
                f"malformed: output {name!r} datatype {got.get('datatype')!r}, not {spec.datatype}"
            )
        want = spec.batch_shape(rows)
        if not matches(got.get("shape"), want):
            return f"malformed: output {name!r} shape {got.get('shape')!r}, not {want}"
        return spec

    def _complete(
        self, header: dict[str, Any], values: dict[str, list[Any]], batch: Batch
    ) -> Outcome:
        if header.get("model_name") != self.model.name:
            return Outcome(error=f"malformed: model_name {header.get('model_name')!r}")
        names = [o.name for o in self.model.outputs]
        sent = [o.get("name") for o in header["outputs"]]
        if sorted(sent) != sorted(names):
            return Outcome(error=f"malformed: outputs {sent}, the model's are {names}")
        if batch.labels is None or self.label_output is None:
            return Outcome()
        labels = values[self.label_output]
        if len(labels) != batch.rows:
            return Outcome(error=f"malformed: {self.label_output!r} is not {batch.rows} labels")
        return Outcome(wrong=_count_wrong(labels, batch.labels))

    def labels(self, body: Any) -> list[str] | None:
        """The labels a JSON answer gives (for a log line); None when it has none."""
        outputs = body.get("outputs") if isinstance(body, dict) else None
        for got in outputs if isinstance(outputs, list) else []:
            if isinstance(got, dict) and got.get("name") == self.label_output:
                return [label_text(v) for v in flatten(got.get("data") or [])]
        return None


def _count_wrong(got: list[Any] | None, expected: list[str] | None) -> int:
    if got is None or expected is None:
        return 0
    return sum(label_text(g) != e for g, e in zip(got, expected, strict=True))
