"""A user's `model.onnx`, served with no code: its graph's inputs and outputs, as they are.

The session comes from service/inference/onnx_session.py (threads from the plan, weights
shared across workers or packed per worker); this module only describes the graph to the
protocol layer and runs it on batches the engine joined along the first axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from service.inference.loaded import LoadedModel
from service.inference.onnx_session import onnx_weights_bytes, open_session
from service.inference.tensors import TensorSpec, onnx_spec


class OnnxPredictor:
    """Runs the session on a tuple of arrays in input order; returns outputs in order."""

    def __init__(self, session: Any, inputs: tuple[TensorSpec, ...]) -> None:
        self._session = session
        self._names = [spec.name for spec in inputs]

    def predict(self, batch: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        # run() releases the GIL for the whole graph; every output, in the graph's order.
        outputs = self._session.run(None, dict(zip(self._names, batch, strict=True)))
        return tuple(np.asarray(output) for output in outputs)


def describe(session: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs and outputs as protocol tensors; ValueError naming a bad one."""
    specs: list[tuple[TensorSpec, ...]] = []
    for kind, args in (("input", session.get_inputs()), ("output", session.get_outputs())):
        try:
            specs.append(tuple(onnx_spec(a.name, a.type, list(a.shape)) for a in args))
        except ValueError as exc:
            raise ValueError(f"model.onnx {kind} {exc}") from None
    return specs[0], specs[1]


def fixed_batch(inputs: tuple[TensorSpec, ...]) -> int | None:
    """Rows per call when an input's first axis is fixed (the engine then never joins)."""
    fixed = {spec.shape[0] for spec in inputs if spec.shape[0] >= 0}
    if len(fixed) > 1:
        raise ValueError(f"model.onnx inputs disagree on their first axis: {sorted(fixed)}")
    return fixed.pop() if fixed else None


def load_onnx(
    path: Path, *, name: str, version: str, threads: int, packed: bool, cache_dir: Path
) -> LoadedModel:
    """`cache_dir`: where the one shared copy is prepared (gunicorn's master made it)."""
    session = open_session(path, threads, packed, cache_dir)
    inputs, outputs = describe(session)
    return LoadedModel(
        predictor=OnnxPredictor(session, inputs),
        name=name,
        version=version,
        inputs=inputs,
        outputs=outputs,
        bytes=onnx_weights_bytes(path.parent),
        platform="onnxruntime_onnx",
        tensors=True,
        packed=packed,
        max_batch=fixed_batch(inputs),
    )
