"""service/inference/onnx_session.py: sessions on a prepared copy answer as ONNX Runtime's
default session does; the copy is made once, whole, by one of many callers, and made again
for a replaced model; the plan's threads reach the session; the weights' bytes are counted
from the protobuf without loading it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from scripts.bench.onnx_models import write_mlp
from service.inference import onnx_session
from service.inference.onnx_session import (
    MARKER,
    WEIGHTS,
    external_data_files,
    onnx_weights_bytes,
    open_session,
    prepare_shared,
    session_options,
)

WIDTHS = [8, 64, 64, 4]  # 2 KiB and 16 KiB weights: above the size kept inside the graph


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model" / "model.onnx"
    write_mlp(path, WIDTHS)
    return path


def answers(session: ort.InferenceSession) -> np.ndarray:
    rows = np.random.default_rng(1).standard_normal((5, WIDTHS[0]), np.float32)
    result: np.ndarray = session.run(None, {"input": rows})[0]
    return result


@pytest.mark.parametrize("packed", [False, True])
def test_a_prepared_session_answers_as_the_default_session(
    model: Path, tmp_path: Path, packed: bool
) -> None:
    expected = answers(ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]))

    session = open_session(model, 1, packed, tmp_path / "cache")

    np.testing.assert_allclose(answers(session), expected, rtol=1e-5, atol=1e-6)
    used = session.get_session_options().get_session_config_entry("session.disable_prepacking")
    assert used == ("0" if packed else "1")


@pytest.mark.parametrize("packed", [False, True])
def test_the_prepared_weights_sit_in_one_file_beside_the_graph(
    model: Path, tmp_path: Path, packed: bool
) -> None:
    prepared = prepare_shared(model, tmp_path / "cache", packed)

    assert external_data_files(prepared) == [prepared.parent / WEIGHTS]
    graph = onnx.load(prepared, load_external_data=False).graph
    inside = [t.name for t in graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    assert inside == ["fc0.bias", "fc1.bias", "fc2.bias"]  # below EXTERNAL_MIN_BYTES
    assert not any(p.name.startswith(".") and p.is_dir() for p in (tmp_path / "cache").iterdir())


def test_prepare_is_idempotent(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = prepare_shared(model, tmp_path / "cache")
    made = first.with_name(WEIGHTS).stat().st_mtime_ns

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(onnx_session, "_in_child", no_conversion)
    again = prepare_shared(model, tmp_path / "cache")

    assert again == first and again.with_name(WEIGHTS).stat().st_mtime_ns == made


def test_a_replaced_model_is_prepared_again(model: Path, tmp_path: Path) -> None:
    before = answers(open_session(model, 1, False, tmp_path / "cache"))
    first = prepare_shared(model, tmp_path / "cache")

    write_mlp(model, WIDTHS, seed=7)  # new weights, same name and size
    second = prepare_shared(model, tmp_path / "cache")

    assert second != first
    after = answers(open_session(model, 1, False, tmp_path / "cache"))
    default = answers(ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]))
    np.testing.assert_allclose(after, default, rtol=1e-5, atol=1e-6)
    assert not np.allclose(after, before)


def test_callers_at_once_convert_once_and_all_get_the_whole_copy(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions = []
    convert = onnx_session._in_child

    def counted(source: str, target: str, packed: bool) -> None:
        conversions.append(target)
        convert(source, target, packed)

    monkeypatch.setattr(onnx_session, "_in_child", counted)
    start, found = threading.Barrier(4), []

    def caller() -> None:
        start.wait()
        found.append(prepare_shared(model, tmp_path / "cache"))

    callers = [threading.Thread(target=caller) for _ in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()

    assert len(conversions) == 1 and len(set(found)) == 1 and len(found) == 4
    assert (found[0].parent / MARKER).exists() and (found[0].parent / WEIGHTS).exists()


def test_a_conversion_that_dies_leaves_no_copy_and_the_next_one_works(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    convert = onnx_session._in_child

    def dies_halfway(source: str, target: str, packed: bool) -> None:
        Path(target).with_name(WEIGHTS).write_bytes(b"half")
        raise RuntimeError("killed")

    monkeypatch.setattr(onnx_session, "_in_child", dies_halfway)
    with pytest.raises(RuntimeError, match="killed"):
        prepare_shared(model, tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # not even half

    monkeypatch.setattr(onnx_session, "_in_child", convert)
    prepared = prepare_shared(model, tmp_path / "cache")

    assert [p for p in (tmp_path / "cache").iterdir() if p.is_dir()] == [prepared.parent]


def test_a_file_that_is_no_model_fails_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "model.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"\x0a\x05hello")  # a field that is not a graph: a protobuf, no model

    with pytest.raises(RuntimeError, match=r"broken/model\.onnx"):
        prepare_shared(broken, tmp_path / "cache")


@pytest.mark.parametrize(("threads", "packed"), [(1, False), (3, True)])
def test_the_plan_threads_reach_the_session(model: Path, threads: int, packed: bool) -> None:
    options = session_options(threads, packed)
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (threads, 1)
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"

    used = open_session(model, threads, packed).get_session_options()

    assert used.intra_op_num_threads == threads


def test_the_weights_bytes_are_the_model_and_the_data_it_names(model: Path, tmp_path: Path) -> None:
    assert onnx_weights_bytes(model.parent) == model.stat().st_size
    assert external_data_files(model) == []

    split = tmp_path / "split"
    split.mkdir()
    onnx.save_model(
        onnx.load(model), split / "model.onnx", save_as_external_data=True, location="w.data"
    )
    (split / "README.md").write_text("not weights")

    assert external_data_files(split / "model.onnx") == [split / "w.data"]
    total = (split / "model.onnx").stat().st_size + (split / "w.data").stat().st_size
    assert onnx_weights_bytes(split) == total
