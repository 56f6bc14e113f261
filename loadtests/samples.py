"""The rows a run sends: a samples file, the embedded model's held-out digits, or generated.

A samples file (loadtests/SAMPLES.md) is JSON:

    {"inputs": {"<input name>": [row, row, ...], ...},
     "labels": ["<label of row 0>", ...],     optional
     "label_output": "<output name>"}        optional; which output the labels are for

A row is one batch item of its input: a number (or string, or bool) for a rank-1 input, a
list for rank 2, nested lists beyond. Every input of the model needs the same number of
rows; rows of one input share their shape, since a request stacks them.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.model import Model, StartError, Tensor

# Generated rows are drawn once and cycled: the run measures the service, not the draw.
POOL = 64
# Inclusive bounds of the integer datatypes a row may hold.
INT_RANGES = {
    **{f"INT{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}


@dataclass(frozen=True)
class Batch:
    inputs: dict[str, list[Any]]  # input name -> its rows
    labels: list[str] | None  # what label_output must say per row, when known
    rows: int


@dataclass(frozen=True)
class Samples:
    inputs: dict[str, list[Any]]
    labels: list[str] | None
    label_output: str | None
    origin: str  # for the start-up line: where the rows came from

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def batch(self, start: int, rows: int) -> Batch:
        """`rows` consecutive rows from `start`, wrapping around the end."""
        picks = [(start + i) % len(self) for i in range(rows)]
        return Batch(
            {name: [values[i] for i in picks] for name, values in self.inputs.items()},
            [self.labels[i] for i in picks] if self.labels is not None else None,
            rows,
        )


def label_text(value: Any) -> str:
    """A label as text, the same for the samples' side and the answer's: 3, 3.0 and "3" agree."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_label_output(model: Model) -> str | None:
    """The output labels are compared with: `label`, else the one output of rank 1."""
    if model.output("label"):
        return "label"
    single = [o.name for o in model.outputs if len(o.shape) == 1]
    return single[0] if len(single) == 1 else None


def from_document(doc: Any, model: Model, where: str) -> Samples:
    """A samples document checked against the model; every mistake named with `where`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), dict):
        raise StartError(f'{where}: expected an object with "inputs": {{"<input name>": [rows]}}')
    unknown = sorted(set(doc) - {"inputs", "labels", "label_output"})
    if unknown:
        raise StartError(f"{where}: unknown key(s) {unknown}")
    given, names = doc["inputs"], [t.name for t in model.inputs]
    if sorted(given) != sorted(names):
        raise StartError(f"{where}: inputs {sorted(given)}, but model {model.name!r} has {names}")
    counts = {len(v) if isinstance(v, list) else 0 for v in given.values()}
    if len(counts) != 1 or 0 in counts:
        raise StartError(f"{where}: every input needs the same number (>= 1) of rows")
    for tensor in model.inputs:
        _check_rows(given[tensor.name], tensor, where)
    labels = doc.get("labels")
    if labels is not None and (not isinstance(labels, list) or len(labels) != counts.pop()):
        raise StartError(f"{where}: 'labels' must be a list with one label per row")
    label_output = doc.get("label_output") or (default_label_output(model) if labels else None)
    if labels is not None:
        _check_label_output(label_output, model, where)
    return Samples(
        {t.name: given[t.name] for t in model.inputs},
        [label_text(x) for x in labels] if labels is not None else None,
        label_output,
        where,
    )


def load(path: Path, model: Model) -> Samples:
    try:
        doc = json.loads(path.read_text())
    except OSError as error:
        raise StartError(f"samples file {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise StartError(f"samples file {path}: not JSON ({error})") from None
    return from_document(doc, model, f"samples file {path}")


def _check_label_output(name: Any, model: Model, where: str) -> None:
    output = model.output(name) if isinstance(name, str) else None
    if output is None:
        outputs = [o.name for o in model.outputs]
        raise StartError(f"{where}: set 'label_output' to the output the labels are for: {outputs}")
    if any(d not in (1, -1) for d in output.row_shape) or len(output.row_shape) > 1:
        raise StartError(f"{where}: output {name!r} {list(output.shape)} is not one label per row")


def _check_rows(rows: list[Any], tensor: Tensor, where: str) -> None:
    first = _shape(rows[0])
    want = tensor.row_shape
    if (
        first is None
        or len(first) != len(want)
        or any(w not in (-1, g) for w, g in zip(want, first, strict=True))
    ):
        raise StartError(
            f"{where}: a row of input {tensor.name!r} must have shape {list(want)} (-1: any),"
            f" got {rows[0]!r:.80}"
        )
    for i, row in enumerate(rows):
        if _shape(row) != first:
            raise StartError(f"{where}: row {i} of input {tensor.name!r} is not shaped as row 0")
        bad = next((v for v in flatten(row) if not fits(v, tensor.datatype)), _NONE)
        if bad is not _NONE:
            raise StartError(
                f"{where}: row {i} of input {tensor.name!r} holds {bad!r}, not {tensor.datatype}"
            )


_NONE = object()


def _shape(value: Any) -> tuple[int, ...] | None:
    """The nested-list shape of a row, None when it is ragged."""
    if not isinstance(value, list):
        return ()
    shapes = {_shape(v) for v in value}
    if len(shapes) > 1:
        return None
    inner = shapes.pop() if shapes else ()
    return None if inner is None else (len(value), *inner)


def flatten(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [value]
    return [x for v in value for x in flatten(v)]


def fits(value: Any, datatype: str) -> bool:
    """Whether a JSON value is one element of `datatype` (true is no number here)."""
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        return isinstance(value, int) and low <= value <= high
    return math.isfinite(value)


def generated(model: Model, seed: int = 0) -> Samples:
    """POOL rows per input from its metadata: FP normal, integers 0 or 1 (an index or a
    category most models know), BOOL coin flips.

    A dynamic axis past the batch gets 1. BYTES cannot be made up: it needs a samples file.
    """
    text = [t.name for t in model.inputs if t.datatype == "BYTES"]
    if text:
        raise StartError(
            f"model {model.name!r} has BYTES input(s) {text}: rows cannot be generated for"
            " them; give a samples file (SAMPLES_FILE, the chart's loadtest.samples)"
        )
    draw = random.Random(seed)
    inputs = {
        t.name: [_row(t.datatype, [max(d, 1) for d in t.row_shape], draw) for _ in range(POOL)]
        for t in model.inputs
    }
    return Samples(inputs, None, None, "generated from the metadata")


def zeros(model: Model) -> Samples:
    """One row of zeros (false, "") per input: a smoke test's input, not a load test's."""
    inputs = {
        t.name: [_row(t.datatype, [max(d, 1) for d in t.row_shape], None)] for t in model.inputs
    }
    return Samples(inputs, None, None, "zeros")


def _row(datatype: str, shape: list[int], draw: random.Random | None) -> Any:
    if shape:
        return [_row(datatype, shape[1:], draw) for _ in range(shape[0])]
    if datatype == "BYTES":
        return ""
    if datatype == "BOOL":
        return draw.random() < 0.5 if draw else False
    if datatype in INT_RANGES:
        return draw.randint(0, 1) if draw else 0
    return round(draw.gauss(0, 1), 4) if draw else 0.0
