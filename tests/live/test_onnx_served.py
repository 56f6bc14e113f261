"""A user's model.onnx alone, served by the real gunicorn with no code: exported by the
converters (tests/onnx_models.py), answered through tritonclient in JSON and binary tensors
exactly as onnxruntime answers in-process, and through /v1/predict for single-input models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx_models
import pytest
import tritonclient.http as triton
from serving import Service, run_service, start_expecting_failure
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from scripts.local.service import clean_env

FACTORIES: dict[str, Callable[[Path], onnx_models.OnnxModel]] = {
    "logistic": onnx_models.logistic_pipeline,
    "forest": onnx_models.forest_classifier,
    "ridge": onnx_models.ridge_regressor,
    "two-inputs": onnx_models.two_input_pipeline,
}
Served = tuple[Service, onnx_models.OnnxModel, str]


@pytest.fixture(scope="module", params=list(FACTORIES))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("onnx")
    model = FACTORIES[request.param](root / request.param)
    env = {"MODEL_DIR": str(model.directory), "MODEL_CACHE_DIR": str(root / "cache")}
    with run_service({**env, "WEB_CONCURRENCY": "2"}, wait_workers=2) as svc:
        yield svc, model, request.param


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[triton.InferenceServerClient]:
    service, _, _ = served
    triton_client = triton.InferenceServerClient(service.url.removeprefix("http://"))
    yield triton_client
    triton_client.close()


def infer_inputs(model: onnx_models.OnnxModel, binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name, values in model.inputs.items():
        tensor = triton.InferInput(name, list(values.shape), np_to_triton_dtype(values.dtype))
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(got, want)


def test_metadata_lists_every_graph_input_and_output(
    served: Served, client: triton.InferenceServerClient
) -> None:
    _, model, name = served

    meta = client.get_model_metadata(name)

    assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        (n, np_to_triton_dtype(v.dtype)) for n, v in model.inputs.items()
    ]
    assert all(i["shape"][0] == -1 for i in meta["inputs"] + meta["outputs"])
    assert {o["name"] for o in meta["outputs"]} == set(model.outputs)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_answers_every_output_as_onnxruntime_in_process(
    served: Served, client: triton.InferenceServerClient, binary: bool
) -> None:
    _, model, name = served
    outputs = [triton.InferRequestedOutput(o, binary_data=binary) for o in model.outputs]

    result = client.infer(name, infer_inputs(model, binary), outputs=outputs)

    for output, want in model.outputs.items():
        assert_same(result.as_numpy(output), want)


def test_infer_answers_only_the_outputs_requested(
    served: Served, client: triton.InferenceServerClient
) -> None:
    _, model, name = served
    last = list(model.outputs)[-1]

    result = client.infer(
        name, infer_inputs(model, True), outputs=[triton.InferRequestedOutput(last)]
    )

    assert [o["name"] for o in result.get_response()["outputs"]] == [last]
    assert_same(result.as_numpy(last), model.outputs[last])


def test_v1_predict_serves_single_input_models_and_names_the_inputs_otherwise(
    served: Served,
) -> None:
    service, model, name = served
    (_, rows), *others = model.inputs.items()

    response = httpx.post(service.url + "/v1/predict", json={"inputs": rows.tolist()})

    if others:
        assert response.status_code == 422
        assert all(repr(n) in response.json()["detail"] for n in model.inputs)
        assert f"/v2/models/{name}/infer" in response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    answer = response.json()
    floats = [o for o, v in model.outputs.items() if v.dtype.kind == "f"]
    assert_same(np.array(answer["outputs"], np.float32), model.outputs[floats[0]])
    labels = [o for o in model.outputs if o not in floats]
    assert answer["labels"] == (model.outputs[labels[0]].tolist() if labels else [])


def test_bad_tensors_are_refused_naming_the_input(
    served: Served, client: triton.InferenceServerClient
) -> None:
    _, model, name = served
    ((first, rows), *_) = model.inputs.items()
    wrong = triton.InferInput(first, list(rows.shape), "FP64")
    wrong.set_data_from_numpy(rows.astype(np.float64))
    cases: list[tuple[list[Any], str]] = [
        ([wrong, *infer_inputs(model, False)[1:]], "datatype must be"),
        (infer_inputs(model, False)[:-1] if len(model.inputs) > 1 else [], "input tensor"),
    ]
    for inputs, words in cases:
        with pytest.raises(InferenceServerException) as error:
            client.infer(name, inputs)
        assert words in str(error.value) and "400" in str(error.value.status())


def test_info_says_how_the_weights_are_held_as_the_plan_chose(served: Served) -> None:
    service, model, _ = served

    info = httpx.get(service.url + "/info").json()

    # A small model under MODEL_PACKING=auto: a packed copy per worker fits the budget.
    assert info["plan"]["model_packed"] and info["model"]["weights"] == "packed"
    assert info["model"]["inputs"][0]["name"] == next(iter(model.inputs))
    assert info["plan"]["workers"] == 2


def test_a_file_that_is_no_onnx_model_stops_gunicorn_naming_it(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    env = {**clean_env(), "MODEL_DIR": str(tmp_path), "MODEL_CACHE_DIR": str(tmp_path / "c")}

    done = start_expecting_failure(env)

    assert done.returncode != 0
    assert "corebound: model.onnx" in done.stderr and "not an ONNX model" in done.stderr
