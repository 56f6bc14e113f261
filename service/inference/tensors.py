"""Named tensors as the Open Inference Protocol describes them, and their numpy dtypes.

A model declares its inputs and outputs as `TensorSpec`s; the protocol layer checks requests
against them and the engine batches along their first axis. Datatype names are the protocol's
(Triton's), so metadata needs no translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The protocol's datatype -> the numpy dtype a tensor of it is decoded to.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
# ONNX Runtime's type strings ("tensor(float)") -> the protocol's datatype.
ONNX_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # the protocol's name: FP32, INT64, BYTES, ...
    shape: tuple[int, ...]  # -1 for a dynamic axis; the first axis holds the rows

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.datatype]

    @property
    def row_shape(self) -> tuple[int, ...]:
        """The shape of one row (every axis after the first)."""
        return self.shape[1:]

    @property
    def row_values(self) -> int | None:
        """Values per row; None when an axis after the first is dynamic."""
        if any(axis < 0 for axis in self.row_shape):
            return None
        return int(np.prod(self.row_shape, dtype=np.int64))

    def metadata(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def onnx_spec(name: str, onnx_type: str, shape: list[object]) -> TensorSpec:
    """A graph input or output as ONNX Runtime reports it; ValueError for non-tensors."""
    datatype = ONNX_TYPES.get(onnx_type)
    if datatype is None:
        hint = (
            " (a scikit-learn classifier converted with ZipMap on: convert it with"
            " options={'zipmap': False}, as `python -m scripts.convert` does)"
            if onnx_type.startswith(("seq(", "map("))
            else ""
        )
        raise ValueError(f"{name!r} is a {onnx_type}, not a tensor the protocol can carry{hint}")
    axes = tuple(axis if isinstance(axis, int) and axis >= 0 else -1 for axis in shape)
    if not axes:
        raise ValueError(f"{name!r} is a scalar: a served tensor needs a first axis of rows")
    return TensorSpec(name, datatype, axes)
