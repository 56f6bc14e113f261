"""tests/onnx_models.py: each factory writes model.onnx alone, and its in-process outputs are the
original estimator's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx_models
import onnxruntime
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


FACTORIES = {
    f.__name__: f
    for f in (
        onnx_models.logistic_pipeline,
        onnx_models.forest_classifier,
        onnx_models.ridge_regressor,
        onnx_models.two_input_pipeline,
    )
}


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_factories_write_model_onnx_alone_matching_the_estimator(
    factory: str, tmp_path: Path
) -> None:
    made = FACTORIES[factory](tmp_path / "m", rows=5)

    assert [p.name for p in made.directory.iterdir()] == ["model.onnx"]
    session = onnxruntime.InferenceSession(str(made.directory / "model.onnx"))
    numpy_types = {"tensor(float)": np.float32, "tensor(int64)": np.int64}
    assert {i.name: numpy_types[i.type] for i in session.get_inputs()} == {
        name: rows.dtype.type for name, rows in made.inputs.items()
    }
    assert all(len(rows) == 5 for rows in made.inputs.values())
    assert list(made.outputs) == [o.name for o in session.get_outputs()] == list(made.expected)
    for name, values in made.outputs.items():
        np.testing.assert_allclose(values, made.expected[name], rtol=1e-5, atol=1e-5)
