"""What the service knows about any model once loaded: its tensors, its runner, its naming.

A "rows" model (the built-in MLP, a MODEL_CLASS factory) has one FP32 input `input-0`
[n, d] and outputs `probabilities` [n, k] and, with labels, `label` (the argmax's label). A
"tensor" model (a model.onnx) has its graph's named inputs and outputs, of any datatype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from service.inference.tensors import TensorSpec


class Predictor(Protocol):
    # Rows models: one float32 [n, d] array in, one [n, k] out. Tensor models: a tuple of
    # arrays in `inputs` order, a tuple in `outputs` order, each with n rows.
    def predict(self, batch: Any) -> Any: ...


@dataclass
class LoadedModel:
    """What the service needs to know about any model, built-in, ONNX or plugged in."""

    predictor: Predictor
    name: str
    version: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    labels: list[str] = field(default_factory=list)
    bytes: int = 0
    # What runs it, in Triton's platform names (the Open Inference Protocol's metadata).
    platform: str = "python"
    tensors: bool = False  # predict takes and returns tuples (False: a rows model)
    packed: bool = False  # one packed copy of the weights per worker (else shared only)
    # Largest rows per model call: a graph whose first axis is fixed takes exactly that many.
    max_batch: int | None = None
    # Every row costs the same whatever its values (the built-in MLP): only such a model may
    # run a request on the event loop (INLINE_MAX_MS). A graph with a loop or a user's code
    # may take minutes on some input, and the probes would wait behind it.
    fixed_cost: bool = False

    @cached_property
    def input_dim(self) -> int | None:
        """Values per row of the single rank-2 input (what /v1/predict takes); else None."""
        if len(self.inputs) != 1 or len(self.inputs[0].shape) != 2:
            return None
        return self.inputs[0].row_values

    def rows_width(self) -> int:
        """input_dim, for callers that serve only models of one [rows, width] input."""
        if self.input_dim is None:
            raise ValueError(f"model {self.name!r} does not take rows of one input")
        return self.input_dim

    @cached_property
    def row_values(self) -> int | None:
        """Values per row over all inputs (the body limit's width); None when dynamic."""
        counts = [spec.row_values for spec in self.inputs]
        return None if None in counts else sum(c for c in counts if c is not None)

    @cached_property
    def v1_output(self) -> str:
        """The output /v1/predict answers as `outputs`: the first floating-point one."""
        floats = [o.name for o in self.outputs if o.datatype.startswith("FP")]
        return floats[0] if floats else self.outputs[0].name

    @cached_property
    def v1_labels(self) -> str | None:
        """The output /v1/predict answers as `labels`: the first other, non-float one."""
        others = [
            o.name
            for o in self.outputs
            if o.name != self.v1_output and not o.datatype.startswith("FP")
        ]
        return others[0] if others else None

    def named_outputs(self, result: Any, names: list[str]) -> dict[str, Any]:
        """The requested outputs of one request's `predict` result, by name."""
        if self.tensors:
            by_name = dict(zip((o.name for o in self.outputs), result, strict=True))
            return {name: by_name[name] for name in names}
        found: dict[str, Any] = {}
        for name in names:
            if name == "label":
                found[name] = argmax_labels(result, self.labels)
            else:
                found[name] = result
        return found


def argmax_labels(outputs: np.ndarray, labels: list[str]) -> list[str]:
    if not labels or outputs.ndim != 2:
        return []
    return [labels[i] for i in outputs.argmax(axis=1)]


def rows_model(
    predictor: Predictor,
    name: str,
    version: str,
    input_dim: int,
    labels: list[str] | None = None,
    **details: Any,
) -> LoadedModel:
    """A model of one FP32 input `input-0` [n, d] and outputs `probabilities` (+ `label`)."""
    labels = labels or []
    outputs = [TensorSpec("probabilities", "FP32", (-1, len(labels) or -1))]
    if labels:
        outputs.append(TensorSpec("label", "BYTES", (-1,)))
    return LoadedModel(
        predictor=predictor,
        name=name,
        version=version,
        inputs=(TensorSpec("input-0", "FP32", (-1, input_dim)),),
        outputs=tuple(outputs),
        labels=labels,
        **details,
    )
