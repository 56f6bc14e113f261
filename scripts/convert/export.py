"""Models to ONNX graphs whose outputs are plain tensors, and the directory the service reads.

scikit-learn estimators and pipelines go through skl2onnx; XGBoost's and LightGBM's
scikit-learn classes too (alone or as a pipeline step), through the onnxmltools converters
registered with skl2onnx as both projects document. A bare LightGBM Booster goes through
onnxmltools directly.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The element types an input may take, by the name `--input` uses.
DTYPES: dict[str, type[np.generic]] = {
    "float32": np.float32,
    "float64": np.float64,
    "int64": np.int64,
}
# The tree converters of onnxmltools emit ai.onnx.ml 3 ops; skl2onnx refuses a graph that
# mixes its own newer ml opset with them, so every graph pins the ml opset.
ML_OPSET = 3


class ConversionError(Exception):
    """The converter refused the model; the message says which part and why."""


@dataclass(frozen=True)
class InputSpec:
    """One graph input: `width` columns of the sample rows, taken in order."""

    name: str
    dtype: str  # a key of DTYPES
    width: int

    @classmethod
    def parse(cls, text: str) -> InputSpec:
        """NAME:TYPE:WIDTH, as `--input` takes it (TYPE one of DTYPES)."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[0] or parts[1] not in DTYPES or not parts[2].isdigit():
            raise ValueError(f"{text!r}: expected NAME:TYPE:WIDTH, TYPE one of {sorted(DTYPES)}")
        if int(parts[2]) < 1:
            raise ValueError(f"{text!r}: WIDTH must be at least 1")
        return cls(parts[0], parts[1], int(parts[2]))


def single_input(width: int, name: str = "input") -> list[InputSpec]:
    """The usual case: one float32 matrix, the features in the order the model was fit."""
    return [InputSpec(name, "float32", width)]


def to_onnx(model: Any, inputs: Sequence[InputSpec]) -> Any:
    """The ONNX ModelProto of `model`; classifiers give label and probabilities tensors."""
    from scripts.convert.load import LightGbmBooster

    if isinstance(model, LightGbmBooster):
        return _lightgbm_booster(model, inputs)
    import skl2onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType

    _register_boosters(*_loaded_booster_libraries())
    tensor_types = {
        "float32": FloatTensorType,
        "float64": DoubleTensorType,
        "int64": Int64TensorType,
    }
    initial_types = [(i.name, tensor_types[i.dtype]([None, i.width])) for i in inputs]
    # ZipMap would turn probabilities into a list of {class: p} maps; the service serves
    # tensors. Only estimators with probabilities know the option.
    options = {"zipmap": False} if callable(getattr(model, "predict_proba", None)) else None
    opset = {"": skl2onnx.get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}
    try:
        return skl2onnx.convert_sklearn(
            model, initial_types=initial_types, options=options, target_opset=opset
        )
    except (RuntimeError, NameError, TypeError, ValueError, NotImplementedError) as exc:
        raise ConversionError(f"skl2onnx cannot convert {_describe(model)}: {exc}") from None


def _describe(model: Any) -> str:
    steps = getattr(model, "steps", None)
    if steps:
        return f"this Pipeline ({' -> '.join(type(s).__name__ for _, s in steps)})"
    return f"a {type(model).__name__}"


def _loaded_booster_libraries() -> tuple[str, ...]:
    # A model holding an XGBoost or LightGBM estimator imported its library when it was
    # built or unpickled; registering only those keeps scikit-learn-only conversions light.
    return tuple(name for name in ("xgboost", "lightgbm") if name in sys.modules)


@functools.cache
def _register_boosters(*libraries: str) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if "xgboost" in libraries:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor

        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    if "lightgbm" in libraries:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )


def _lightgbm_booster(model: Any, inputs: Sequence[InputSpec]) -> Any:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    if len(inputs) != 1 or inputs[0].dtype != "float32":
        raise ConversionError("a LightGBM Booster converts with one float32 input only")
    spec = inputs[0]
    try:
        graph = onnxmltools.convert_lightgbm(
            model.booster, initial_types=[(spec.name, FloatTensorType([None, spec.width]))],
            zipmap=False,
        )  # fmt: skip
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        raise ConversionError(f"onnxmltools cannot convert this LightGBM Booster: {exc}") from None
    # onnxmltools declares a Booster's label output as shape [1]; it has a row per input row,
    # and the service reads the declared shapes.
    for output in graph.graph.output:
        dims = output.type.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    return graph


def write_model_dir(
    graph: Any, directory: Path, *, name: str | None = None, version: str | None = None
) -> Path:
    """`directory`/model.onnx, plus model.json with the name/version given (if any)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.onnx"
    path.write_bytes(graph.SerializeToString())
    meta = {key: value for key, value in (("name", name), ("version", version)) if value}
    if meta:
        (directory / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path
