"""service/inference/tensors.py: ONNX Runtime's inputs and outputs as protocol tensors, and
what a tensor's shape says about one row."""

from __future__ import annotations

import numpy as np
import pytest

from service.inference.tensors import DTYPES, ONNX_TYPES, TensorSpec, onnx_spec


@pytest.mark.parametrize(
    ("onnx_type", "datatype", "dtype"),
    [
        ("tensor(bool)", "BOOL", np.bool_),
        ("tensor(uint8)", "UINT8", np.uint8),
        ("tensor(uint16)", "UINT16", np.uint16),
        ("tensor(uint32)", "UINT32", np.uint32),
        ("tensor(uint64)", "UINT64", np.uint64),
        ("tensor(int8)", "INT8", np.int8),
        ("tensor(int16)", "INT16", np.int16),
        ("tensor(int32)", "INT32", np.int32),
        ("tensor(int64)", "INT64", np.int64),
        ("tensor(float16)", "FP16", np.float16),
        ("tensor(float)", "FP32", np.float32),
        ("tensor(double)", "FP64", np.float64),
        ("tensor(string)", "BYTES", np.object_),
    ],
)
def test_each_onnx_runtime_tensor_type_maps_to_its_protocol_datatype_and_dtype(
    onnx_type: str, datatype: str, dtype: type
) -> None:
    spec = onnx_spec("t", onnx_type, ["batch", 2])

    assert spec.datatype == datatype
    assert spec.dtype == np.dtype(dtype)


def test_every_onnx_type_has_a_dtype_and_every_dtype_an_onnx_type() -> None:
    assert sorted(ONNX_TYPES.values()) == sorted(DTYPES)


@pytest.mark.parametrize(
    ("shape", "axes"),
    [
        ([None, 3], (-1, 3)),
        (["batch", 3], (-1, 3)),
        (["N", "seq", 8], (-1, -1, 8)),
        ([4, None], (4, -1)),
        ([None], (-1,)),
    ],
)
def test_dynamic_axes_become_minus_one_and_fixed_ones_stay(
    shape: list[object], axes: tuple[int, ...]
) -> None:
    spec = onnx_spec("x", "tensor(float)", shape)

    assert spec == TensorSpec("x", "FP32", axes)


@pytest.mark.parametrize(
    "onnx_type", ["seq(map(int64,tensor(float)))", "map(string,tensor(float))"]
)
def test_a_zipmap_output_is_refused_with_the_converters_hint(onnx_type: str) -> None:
    with pytest.raises(ValueError) as refused:
        onnx_spec("output_probability", onnx_type, [])

    message = str(refused.value)
    assert f"'output_probability' is a {onnx_type}," in message
    assert "not a tensor the protocol can carry" in message
    assert "options={'zipmap': False}" in message and "python -m scripts.convert" in message


def test_an_unknown_tensor_type_is_refused_without_the_zipmap_hint() -> None:
    with pytest.raises(ValueError, match=r"'x' is a tensor\(complex64\), not a tensor") as refused:
        onnx_spec("x", "tensor(complex64)", [None, 2])

    assert "zipmap" not in str(refused.value)


def test_a_scalar_is_refused_for_lacking_a_row_axis() -> None:
    with pytest.raises(ValueError, match=r"'n' is a scalar: a served tensor needs a first axis"):
        onnx_spec("n", "tensor(int64)", [])


@pytest.mark.parametrize(
    ("shape", "row_shape", "row_values"),
    [
        ((-1, 3), (3,), 3),
        ((-1, 2, 4), (2, 4), 8),
        ((-1,), (), 1),
        ((5, 3), (3,), 3),
        ((-1, -1), (-1,), None),
        ((-1, 3, -1), (3, -1), None),
    ],
)
def test_row_values_count_one_rows_values_unless_a_later_axis_is_dynamic(
    shape: tuple[int, ...], row_shape: tuple[int, ...], row_values: int | None
) -> None:
    spec = TensorSpec("x", "FP32", shape)

    assert spec.row_shape == row_shape
    assert spec.row_values == row_values


def test_metadata_is_the_protocols_tensor_description_with_a_list_shape() -> None:
    spec = TensorSpec("codes", "INT64", (-1, 2))

    assert spec.metadata() == {"name": "codes", "datatype": "INT64", "shape": [-1, 2]}
