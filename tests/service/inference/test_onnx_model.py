"""service/inference/onnx_model.py through load_model: a directory holding a model.onnx is
served as its graph is, named by model.json, MODEL_NAME/MODEL_VERSION or its directory; its
inputs and outputs are the graph's; graphs the protocol cannot carry are refused at load.

The graphs are built here with onnx.helper, a node or two each, and loaded with a cache
directory so the shared-weights preparation (service/inference/onnx_session.py) runs too."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from service.inference.loaded import LoadedModel
from service.inference.model import load_model
from service.inference.onnx_model import describe, fixed_batch
from service.inference.tensors import TensorSpec

INT64, FLOAT = TensorProto.INT64, TensorProto.FLOAT
BOOL, STRING = TensorProto.BOOL, TensorProto.STRING


def write_graph(
    directory: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    ml: bool = False,
) -> Path:
    """`directory`/model.onnx holding the graph; `ml`: it uses the ai.onnx.ml domain."""
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if ml else [])
    model = helper.make_model(
        helper.make_graph(nodes, directory.name, inputs, outputs), opset_imports=opsets
    )
    model.ir_version = 8  # what this onnxruntime reads whatever onnx wrote by default
    onnx.checker.check_model(model)
    directory.mkdir(parents=True)
    onnx.save(model, directory / "model.onnx")
    return directory


def value(name: str, elem_type: int, shape: list[str | int | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def int64_graph(directory: Path) -> Path:
    """codes INT64 [batch, 3] -> doubled INT64 [batch, 3] (codes + codes), scores FP32 (cast)."""
    return write_graph(
        directory,
        [
            helper.make_node("Add", ["codes", "codes"], ["doubled"]),
            helper.make_node("Cast", ["codes"], ["scores"], to=FLOAT),
        ],
        [value("codes", INT64, ["batch", 3])],
        [value("doubled", INT64, ["batch", 3]), value("scores", FLOAT, [None, 3])],
    )


def identity_graph(
    directory: Path, elem_type: int, shape: list[str | int | None], op: str = "Identity"
) -> Path:
    return write_graph(
        directory,
        [helper.make_node(op, ["x"], ["y"])],
        [value("x", elem_type, shape)],
        [value("y", elem_type, shape)],
    )


def load(
    directory: Path, cache: Path, name: str | None = None, version: str | None = None
) -> LoadedModel:
    """As the lifespan loads it: MODEL_NAME/MODEL_VERSION as `name`/`version`."""
    return load_model(directory, None, threads=1, cache_dir=cache, name=name, version=version)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The INT64 graph in a directory `my-graph`, prepared once for the tests that load it."""
    return int64_graph(tmp_path_factory.mktemp("graphs") / "my-graph")


@pytest.fixture(scope="module")
def int64_model(graph_dir: Path, cache: Path) -> LoadedModel:
    return load(graph_dir, cache)


def with_model_json(directory: Path, meta: object) -> Path:
    """`directory` with `meta` as its model.json, or none when `meta` is None."""
    path = directory / "model.json"
    path.unlink(missing_ok=True)
    if meta is not None:
        path.write_text(json.dumps(meta))
    return directory


def test_a_graphs_inputs_and_outputs_are_its_named_typed_tensors(int64_model: LoadedModel) -> None:
    assert int64_model.inputs == (TensorSpec("codes", "INT64", (-1, 3)),)
    assert int64_model.outputs == (
        TensorSpec("doubled", "INT64", (-1, 3)),
        TensorSpec("scores", "FP32", (-1, 3)),
    )


def test_a_graph_is_a_tensor_model_run_by_onnx_runtime_on_any_rows(
    int64_model: LoadedModel,
) -> None:
    assert int64_model.platform == "onnxruntime_onnx"
    assert int64_model.tensors and not int64_model.packed  # shared: load_model's default
    assert int64_model.max_batch is None and int64_model.input_dim == 3
    assert not int64_model.fixed_cost  # a graph may loop: never run on the event loop


def test_the_weights_bytes_are_the_graph_files_not_model_json(graph_dir: Path, cache: Path) -> None:
    directory = with_model_json(graph_dir, {"name": "padded" * 100})

    model = load(directory, cache)

    assert model.bytes == (directory / "model.onnx").stat().st_size


def test_predict_on_a_tuple_returns_every_output_in_the_graphs_order(
    int64_model: LoadedModel,
) -> None:
    codes = np.array([[1, 2, 3], [-4, 5, 2**40]], np.int64)

    doubled, scores = int64_model.predictor.predict((codes,))

    assert doubled.dtype == np.int64 and doubled.tolist() == (codes * 2).tolist()
    assert scores.dtype == np.float32 and scores.tolist() == codes.astype(np.float32).tolist()


def test_bool_and_string_graphs_take_and_return_their_own_types(
    tmp_path: Path, cache: Path
) -> None:
    flags = load(identity_graph(tmp_path / "flags", BOOL, [None, 2], op="Not"), cache)
    words = load(identity_graph(tmp_path / "words", STRING, [None]), cache)

    (negated,) = flags.predictor.predict((np.array([[True, False]]),))
    (same,) = words.predictor.predict((np.array(["héllo", ""], dtype=object),))

    assert flags.inputs == (TensorSpec("x", "BOOL", (-1, 2)),)
    assert negated.tolist() == [[False, True]]
    assert words.inputs == (TensorSpec("x", "BYTES", (-1,)),)
    assert same.tolist() == ["héllo", ""]
    assert (words.input_dim, words.row_values) == (None, 1)


@pytest.mark.parametrize(
    ("meta", "naming", "expected"),
    [
        ({"name": "from-json", "version": 7}, {"name": "env", "version": "3"}, ("from-json", "7")),
        ({"name": "from-json"}, {"name": "env", "version": "3"}, ("from-json", "3")),
        (None, {"name": "env", "version": "3"}, ("env", "3")),
        (None, {"name": None, "version": None}, ("my-graph", "1")),
        ({"labels": ["a"]}, {}, ("my-graph", "1")),
    ],
    ids=["model-json", "json-name-env-version", "env", "directory", "json-without-naming"],
)
def test_model_json_names_it_else_model_name_and_version_else_the_directory_and_1(
    graph_dir: Path,
    cache: Path,
    meta: dict[str, object] | None,
    naming: dict[str, str | None],
    expected: tuple[str, str],
) -> None:
    directory = with_model_json(graph_dir, meta)

    model = load(directory, cache, **naming)

    assert (model.name, model.version) == expected


def test_a_model_json_that_is_not_an_object_is_refused(graph_dir: Path, cache: Path) -> None:
    directory = with_model_json(graph_dir, ["name"])

    with pytest.raises(ValueError, match=r"model\.json must be a JSON object"):
        load(directory, cache)


def test_a_graph_whose_first_axis_is_fixed_takes_that_many_rows_per_call(
    tmp_path: Path, cache: Path
) -> None:
    model = load(identity_graph(tmp_path / "one", FLOAT, [1, 4]), cache)

    assert model.max_batch == 1 and model.inputs == (TensorSpec("x", "FP32", (1, 4)),)


def test_inputs_whose_fixed_first_axes_disagree_are_refused(tmp_path: Path, cache: Path) -> None:
    directory = write_graph(
        tmp_path / "disagree",
        [helper.make_node("Identity", ["a"], ["a2"]), helper.make_node("Identity", ["b"], ["b2"])],
        [value("a", FLOAT, [2, 3]), value("b", FLOAT, [3, 3])],
        [value("a2", FLOAT, [2, 3]), value("b2", FLOAT, [3, 3])],
    )

    with pytest.raises(ValueError, match=r"inputs disagree on their first axis: \[2, 3\]"):
        load(directory, cache)


def test_fixed_batch_ignores_dynamic_first_axes() -> None:
    specs = (TensorSpec("a", "FP32", (-1, 3)), TensorSpec("b", "INT64", (4, 2)))

    assert fixed_batch(specs) == 4
    assert fixed_batch(specs[:1]) is None


def test_a_zipmap_output_is_refused_at_load_naming_it_and_the_converter_option(
    tmp_path: Path, cache: Path
) -> None:
    probabilities = helper.make_sequence_type_proto(
        helper.make_map_type_proto(INT64, helper.make_tensor_type_proto(FLOAT, []))
    )
    directory = write_graph(
        tmp_path / "zipmap",
        [
            helper.make_node(
                "ZipMap", ["x"], ["probs"], domain="ai.onnx.ml", classlabels_int64s=[0, 1]
            )
        ],
        [value("x", FLOAT, [None, 2])],
        [helper.make_value_info("probs", probabilities)],
        ml=True,
    )

    with pytest.raises(ValueError) as refused:
        load(directory, cache)

    message = str(refused.value)
    assert message.startswith("model.onnx output 'probs' is a seq(map(int64,tensor(float)))")
    assert "options={'zipmap': False}" in message


def test_describe_names_an_input_the_protocol_cannot_carry() -> None:
    session = SimpleNamespace(
        get_inputs=lambda: [SimpleNamespace(name="n", type="tensor(float)", shape=[])],
        get_outputs=lambda: [],
    )

    with pytest.raises(ValueError, match=r"model\.onnx input 'n' is a scalar"):
        describe(session)
