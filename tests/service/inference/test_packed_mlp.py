"""MODEL_RUNTIME: the ONNX Runtime MLP answers as the numpy one, with the plan's threads."""

from __future__ import annotations

import numpy as np
import pytest
from paths import DEFAULT_MODEL
from serving import holdout

from service.inference.model import MLP, load_artifact, load_model
from service.inference.packed_mlp import PackedMLP
from service.settings import Settings
from service.sizing.planning import plan_for


@pytest.mark.parametrize("rows", [1, 2, 7, 64, 300])
def test_packed_runtime_gives_the_numpy_answers(rows: int) -> None:
    inputs = np.asarray(holdout()[0] * 2, np.float32)[:rows]
    numpy_model = load_artifact(DEFAULT_MODEL, runtime="numpy")
    packed_model = load_artifact(DEFAULT_MODEL, runtime="onnxruntime")
    assert isinstance(numpy_model.predictor, MLP)
    assert isinstance(packed_model.predictor, PackedMLP)

    expected = numpy_model.predictor.predict(inputs)
    got = packed_model.predictor.predict(inputs)

    assert got.shape == expected.shape == (rows, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert np.array_equal(got.argmax(1), expected.argmax(1))


def test_packed_runtime_reads_the_mapped_weights_and_takes_any_row_layout() -> None:
    model = load_artifact(DEFAULT_MODEL, mmap=True, runtime="onnxruntime")
    weight = model.predictor.layers[0][0]  # type: ignore[attr-defined]
    assert not weight.flags.writeable  # the session was fed the read-only mapping, not a copy
    rows = np.asfortranarray(np.asarray(holdout()[0][:5], np.float64))  # not what ORT takes
    expected = load_artifact(DEFAULT_MODEL, runtime="numpy").predictor.predict(
        rows.astype(np.float32)
    )
    np.testing.assert_allclose(model.predictor.predict(rows), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 3])
def test_packed_runtime_uses_the_plans_threads(threads: int) -> None:
    model = load_model(DEFAULT_MODEL, None, runtime="onnxruntime", threads=threads)
    options = model.predictor._session.get_session_options()  # type: ignore[attr-defined]
    assert options.intra_op_num_threads == threads


def test_unknown_runtime_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="MODEL_RUNTIME must be 'onnxruntime' or 'numpy'"):
        load_artifact(DEFAULT_MODEL, runtime="torch")
    with pytest.raises(ValueError, match="model_runtime"):
        Settings(model_runtime="torch")


@pytest.mark.parametrize(
    ("env", "packed", "copies"),
    [
        ({}, True, 3),  # mapped once + packed in each of the 2 workers
        ({"model_runtime": "numpy"}, False, 1),
        ({"model_class": "scripts.bench.floor:load"}, False, 1),  # its own code, not packed
    ],
)
def test_the_memory_plan_counts_packed_copies_only_when_packing(
    env: dict[str, str], packed: bool, copies: int
) -> None:
    p = plan_for(Settings(web_concurrency=2, **env))  # type: ignore[arg-type]
    assert (p.model_packed, p.model_copies) == (packed, copies)


def test_batches_below_the_measured_size_take_numpys_kernel() -> None:
    model = load_artifact(DEFAULT_MODEL, runtime="onnxruntime").predictor
    assert isinstance(model, PackedMLP)
    assert 1 <= model.numpy_below <= 5  # measured on this CPU at load
    model.numpy_below = 3
    session_batches: list[int] = []
    run = model._run

    def counted(rows: np.ndarray) -> np.ndarray:
        session_batches.append(len(rows))
        return run(rows)

    model._run = counted  # type: ignore[method-assign]
    inputs = np.asarray(holdout()[0][:4], np.float32)
    expected = load_artifact(DEFAULT_MODEL, runtime="numpy").predictor.predict(inputs)
    for rows in (1, 2, 3, 4):
        np.testing.assert_allclose(model.predict(inputs[:rows]), expected[:rows], atol=1e-5)
    assert session_batches == [3, 4]
