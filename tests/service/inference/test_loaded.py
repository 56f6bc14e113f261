"""service/inference/loaded.py: what the service knows of any loaded model: a rows model's
fixed tensors, which outputs /v1/predict answers, the row widths, and outputs by name."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from service.inference.loaded import LoadedModel, argmax_labels, rows_model
from service.inference.tensors import TensorSpec

PREDICTOR = SimpleNamespace(predict=lambda batch: batch)


def tensor_model(outputs: list[TensorSpec], inputs: list[TensorSpec] | None = None) -> LoadedModel:
    return LoadedModel(
        predictor=PREDICTOR,
        name="graph",
        version="1",
        inputs=tuple(inputs or [TensorSpec("x", "FP32", (-1, 4))]),
        outputs=tuple(outputs),
        tensors=True,
    )


def test_a_rows_model_with_labels_has_one_fp32_input_probabilities_and_a_label() -> None:
    model = rows_model(PREDICTOR, "m", "2", 8, ["a", "b", "c"], bytes=123)

    assert model.inputs == (TensorSpec("input-0", "FP32", (-1, 8)),)
    assert model.outputs == (
        TensorSpec("probabilities", "FP32", (-1, 3)),
        TensorSpec("label", "BYTES", (-1,)),
    )
    assert (model.name, model.version, model.bytes, model.tensors) == ("m", "2", 123, False)


def test_a_rows_model_without_labels_has_probabilities_of_any_width_only() -> None:
    model = rows_model(PREDICTOR, "m", "1", 8)

    assert model.outputs == (TensorSpec("probabilities", "FP32", (-1, -1)),)
    assert model.labels == [] and model.v1_labels is None


def test_a_rows_model_answers_v1_with_probabilities_and_its_label_output() -> None:
    model = rows_model(PREDICTOR, "m", "1", 8, ["a", "b"])

    assert (model.v1_output, model.v1_labels) == ("probabilities", "label")


@pytest.mark.parametrize(
    ("outputs", "v1_output", "v1_labels"),
    [
        # skl2onnx's classifier: the label first, probabilities second.
        ([("label", "INT64"), ("probabilities", "FP32")], "probabilities", "label"),
        ([("scores", "FP64"), ("extra", "FP32"), ("label", "BYTES")], "scores", "label"),
        ([("variable", "FP32")], "variable", None),
        ([("a", "FP32"), ("b", "FP16")], "a", None),
        # No float output: the first output answers, the next non-float one labels.
        ([("ids", "INT64"), ("names", "BYTES")], "ids", "names"),
        ([("flags", "BOOL")], "flags", None),
    ],
)
def test_v1_answers_the_first_float_output_and_labels_with_the_first_other_non_float(
    outputs: list[tuple[str, str]], v1_output: str, v1_labels: str | None
) -> None:
    model = tensor_model([TensorSpec(name, datatype, (-1,)) for name, datatype in outputs])

    assert (model.v1_output, model.v1_labels) == (v1_output, v1_labels)


@pytest.mark.parametrize(
    ("inputs", "input_dim", "row_values"),
    [
        ([TensorSpec("x", "INT64", (-1, 3))], 3, 3),
        ([TensorSpec("x", "FP32", (-1, -1))], None, None),
        ([TensorSpec("x", "FP32", (-1, 2, 3))], None, 6),
        ([TensorSpec("x", "BYTES", (-1,))], None, 1),
        ([TensorSpec("a", "FP32", (-1, 4)), TensorSpec("b", "INT64", (-1, 2))], None, 6),
        ([TensorSpec("a", "FP32", (-1, 4)), TensorSpec("b", "INT64", (-1, -1))], None, None),
    ],
    ids=["one-rank-2", "dynamic-width", "rank-3", "rank-1", "two-inputs", "two-one-dynamic"],
)
def test_input_dim_is_only_for_one_rank_2_input_and_row_values_sums_every_input(
    inputs: list[TensorSpec], input_dim: int | None, row_values: int | None
) -> None:
    model = tensor_model([TensorSpec("y", "FP32", (-1,))], inputs)

    assert (model.input_dim, model.row_values) == (input_dim, row_values)


def test_rows_width_is_the_input_dim_of_a_rows_model() -> None:
    assert rows_model(PREDICTOR, "m", "1", 64).rows_width() == 64


def test_rows_width_refuses_a_model_without_one_rank_2_input_naming_it() -> None:
    model = tensor_model(
        [TensorSpec("y", "FP32", (-1,))],
        [TensorSpec("a", "FP32", (-1, 4)), TensorSpec("b", "FP32", (-1, 4))],
    )

    with pytest.raises(ValueError, match="model 'graph' does not take rows of one input"):
        model.rows_width()


def test_a_tensor_models_outputs_are_picked_by_name_in_the_order_asked() -> None:
    model = tensor_model([TensorSpec("label", "INT64", (-1,)), TensorSpec("p", "FP32", (-1, 2))])
    label, probabilities = np.array([1, 0]), np.array([[0.2, 0.8], [0.9, 0.1]])

    found = model.named_outputs((label, probabilities), ["p", "label"])

    assert list(found) == ["p", "label"]
    assert found["p"] is probabilities and found["label"] is label


def test_a_tensor_models_result_must_hold_every_output() -> None:
    model = tensor_model([TensorSpec("a", "FP32", (-1,)), TensorSpec("b", "FP32", (-1,))])

    with pytest.raises(ValueError):
        model.named_outputs((np.zeros(1),), ["a"])


def test_a_rows_models_label_output_is_the_argmax_label_of_each_row() -> None:
    model = rows_model(PREDICTOR, "m", "1", 2, ["cat", "dog", "eel"])
    result = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], np.float32)

    found = model.named_outputs(result, ["label", "probabilities"])

    assert found["label"] == ["dog", "cat"]
    assert found["probabilities"] is result


def test_argmax_labels_are_empty_without_labels_or_for_a_result_not_of_rows() -> None:
    assert argmax_labels(np.array([[0.1, 0.9]]), []) == []
    assert argmax_labels(np.array([0.1, 0.9]), ["a", "b"]) == []


def test_argmax_labels_name_the_highest_value_of_each_row() -> None:
    outputs = np.array([[3.0, 1.0], [0.0, 2.0], [5.0, 5.0]])

    assert argmax_labels(outputs, ["no", "yes"]) == ["no", "yes", "no"]  # ties: the first
