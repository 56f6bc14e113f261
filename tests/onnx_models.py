"""Small user models as model.onnx, made with the converters (scripts/convert), for the tests
that serve a user's model with no code.

Each factory fits a small scikit-learn model on a dataset scikit-learn ships (fixed seeds,
well under a second), converts it with scripts.convert's functions, and writes
`directory`/model.onnx alone: no model.json, as a user who only exported would have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scripts.convert import examples
from scripts.convert.check import feeds_for, model_rows, reference_outputs, run_onnx
from scripts.convert.export import InputSpec, to_onnx, write_model_dir

SEED = examples.SEED


@dataclass(frozen=True)
class OnnxModel:
    directory: Path  # holds model.onnx only
    inputs: dict[str, np.ndarray]  # sample rows per graph input, in the input's dtype
    outputs: dict[str, np.ndarray]  # onnxruntime's in-process outputs for them, by output name
    # The original estimator's outputs on the same rows, by output name, in the output's shape.
    expected: dict[str, np.ndarray]


def logistic_pipeline(directory: Path, rows: int = 8) -> OnnxModel:
    """StandardScaler + LogisticRegression on the digits (FP32 [n, 64]): label INT64 [n],
    probabilities FP32 [n, 10]."""
    return _example("logistic", directory, rows)


def forest_classifier(directory: Path, rows: int = 8) -> OnnxModel:
    """RandomForestClassifier on breast cancer (FP32 [n, 30]): label INT64 [n],
    probabilities FP32 [n, 2]."""
    return _example("forest", directory, rows)


def ridge_regressor(directory: Path, rows: int = 8) -> OnnxModel:
    """Ridge on diabetes (FP32 [n, 10]): one output, variable FP32 [n, 1]."""
    return _example("ridge", directory, rows)


def two_input_pipeline(directory: Path, rows: int = 8) -> OnnxModel:
    """Two inputs of different widths and types: `measurements` FP32 [n, 4] (iris) and
    `codes` INT64 [n, 2] (categories 0..2), scaled and one-hot encoded by a ColumnTransformer
    into a LogisticRegression: label INT64 [n], probabilities FP32 [n, 3]."""
    return _example("two-inputs", directory, rows)


def _example(name: str, directory: Path, rows: int) -> OnnxModel:
    model, inputs, x, _ = examples.fitted(name)
    return _export(model, inputs, examples.sample(x, rows), directory)


def _export(
    model: Any, inputs: Sequence[InputSpec], rows: np.ndarray, directory: Path
) -> OnnxModel:
    feeds = feeds_for(rows, inputs)
    path = write_model_dir(to_onnx(model, inputs), directory)
    outputs = run_onnx(path, feeds)
    references = reference_outputs(model, model_rows(feeds))
    expected = {
        name: values.reshape(outputs[name].shape)
        for name, (_, values) in zip(outputs, references, strict=True)
    }
    return OnnxModel(directory, feeds, outputs, expected)


def long_call_graph(directory: Path, width: int = 512) -> Path:
    """A model.onnx whose call takes as long as its input asks: `iterations` INT64 [n, 1], the
    largest of which is the trip count of a Loop of a [n, width] x [width, width] MatMul and
    Tanh; `value` FP32 [n, 1]. A legitimately long call, in ONNX Runtime's own threads."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(SEED).standard_normal((width, width)).astype(np.float32)
    weight /= np.sqrt(width)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["state_in", "weight"], ["product"]),
            helper.make_node("Tanh", ["product"], ["state_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "step",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("state_in", TensorProto.FLOAT, ["n", width]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["n", width]),
        ],
    )
    nodes = [
        helper.make_node("ReduceMax", ["iterations"], ["trips"], keepdims=0),
        helper.make_node("Cast", ["iterations"], ["start_column"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["start_column", "state_shape"], ["start"]),
        helper.make_node("Loop", ["trips", "", "start"], ["final"], body=body),
        helper.make_node("ReduceMean", ["final"], ["value"], axes=[1], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        "long-call",
        [helper.make_tensor_value_info("iterations", TensorProto.INT64, ["n", 1])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["n", 1])],
        [
            numpy_helper.from_array(weight, "weight"),
            numpy_helper.from_array(np.array([1, width], np.int64), "state_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path
