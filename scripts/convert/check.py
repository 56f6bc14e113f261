"""The converted graph against the original model, on the same rows, in this process.

Both sides see the same values: the original gets the rows as the graph's inputs hold them
(float32, int64), so a difference measures the conversion, not the rounding of the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scripts.convert.export import DTYPES, InputSpec


class CheckError(Exception):
    """Rows or outputs that cannot be compared at all; the message says why."""


@dataclass(frozen=True)
class Difference:
    """One output: the graph's values against the original model's method."""

    output: str
    method: str  # the original model's method it is compared with
    max_abs: float  # inf where a label differs
    beyond: int  # values out of tolerance
    count: int  # values compared

    @property
    def ok(self) -> bool:
        return self.beyond == 0


def feeds_for(rows: np.ndarray, inputs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """The rows split into the graph's inputs, column blocks in order, each in its dtype."""
    width = sum(spec.width for spec in inputs)
    if rows.shape[1] != width:
        layout = " + ".join(f"{s.name}:{s.width}" for s in inputs)
        raise CheckError(
            f"the rows have {rows.shape[1]} columns; the inputs take {width} ({layout})"
        )
    feeds, start = {}, 0
    for spec in inputs:
        block = rows[:, start : start + spec.width]
        start += spec.width
        if spec.dtype == "int64" and not np.array_equal(block, np.round(block)):
            raise CheckError(f"input {spec.name!r} is int64 but its columns hold fractions")
        feeds[spec.name] = np.ascontiguousarray(block.astype(DTYPES[spec.dtype]))
    return feeds


def model_rows(feeds: Mapping[str, np.ndarray]) -> np.ndarray:
    """What the original model is given: the graph's inputs side by side."""
    blocks = list(feeds.values())
    if len(blocks) == 1:
        return blocks[0]
    return np.hstack([block.astype(np.float64) for block in blocks])


def run_onnx(graph: Path | bytes, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """onnxruntime's outputs, by output name in the graph's order."""
    import onnxruntime

    source = str(graph) if isinstance(graph, Path) else graph
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    try:
        results = session.run(names, dict(feeds))
    except Exception as exc:  # onnxruntime's errors share no base class but Exception
        raise CheckError(f"onnxruntime cannot run the graph on these rows: {exc}") from None
    return dict(zip(names, results, strict=True))


def reference_outputs(model: Any, rows: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(method, values) in the order the converted graph lists its outputs."""
    kind = _kind(model)
    if kind is None:
        raise CheckError(f"a {type(model).__name__} is neither a classifier nor a regressor")
    methods = ["predict"]
    if kind == "classifier":
        has_proba = callable(getattr(model, "predict_proba", None))
        methods.append("predict_proba" if has_proba else "decision_function")
    try:
        return [(method, np.asarray(getattr(model, method)(rows))) for method in methods]
    except ValueError as exc:  # scikit-learn's word for rows it cannot take
        raise CheckError(f"the original model's predict fails on these rows: {exc}") from None


def _kind(model: Any) -> str | None:
    flag = getattr(model, "is_classifier", None)  # load.LightGbmBooster says itself
    if isinstance(flag, bool):
        return "classifier" if flag else "regressor"
    from sklearn.base import is_classifier, is_regressor

    return "classifier" if is_classifier(model) else "regressor" if is_regressor(model) else None


def compare(
    got: Mapping[str, np.ndarray], want: Sequence[tuple[str, np.ndarray]], tolerance: float
) -> list[Difference]:
    """Each output against its reference: |got - want| <= tolerance x max(1, |want|).

    Absolute for values up to 1 (probabilities), relative above (a regressor's scale).
    """
    if len(got) != len(want):
        raise CheckError(
            f"the graph has {len(got)} outputs ({', '.join(got)}); "
            f"the original gives {len(want)} ({', '.join(m for m, _ in want)})"
        )
    return [
        _difference(name, method, values, expected, tolerance)
        for (name, values), (method, expected) in zip(got.items(), want, strict=True)
    ]


def _difference(
    name: str, method: str, values: np.ndarray, expected: np.ndarray, tolerance: float
) -> Difference:
    if values.shape != expected.shape:
        if values.size != expected.size:
            raise CheckError(
                f"output {name!r} has shape {values.shape}; {method} gives {expected.shape}"
            )
        values = values.reshape(expected.shape)  # a regressor's [n, 1] against predict's [n]
    numeric = all(np.issubdtype(a.dtype, np.number) for a in (values, expected))
    if numeric:
        values, expected = values.astype(np.float64), expected.astype(np.float64)
        both_nan = np.isnan(values) & np.isnan(expected)
        diff = np.where(both_nan, 0.0, np.abs(values - expected))
        diff = np.where(np.isnan(diff), np.inf, diff)
        beyond = int(np.count_nonzero(diff > tolerance * np.maximum(1.0, np.abs(expected))))
    else:  # string labels: equal or not
        diff = np.where(values.astype(str) == expected.astype(str), 0.0, np.inf)
        beyond = int(np.count_nonzero(diff))
    max_abs = float(diff.max()) if diff.size else 0.0
    return Difference(name, method, max_abs, beyond, int(diff.size))
