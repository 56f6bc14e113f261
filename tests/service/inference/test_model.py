"""Model artifacts: the default MLP, broken artifacts refused, MODEL_CLASS, synthetic models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from paths import DEFAULT_MODEL
from serving import holdout

from scripts.modelgen import synthetic as make_synthetic_model
from service.app import create_app
from service.inference.model import load_artifact, load_model
from service.settings import Settings


def test_default_model_is_memory_mapped_and_accurate() -> None:
    model = load_artifact(DEFAULT_MODEL, mmap=True)
    weight = model.predictor.layers[0][0]  # type: ignore[attr-defined]
    assert (
        weight.base is not None and not weight.flags.writeable
    )  # a view over the read-only mapping
    inputs, labels = holdout()
    outputs = model.predictor.predict(np.asarray(inputs, np.float32))
    accuracy = np.mean(
        [model.labels[i] == t for i, t in zip(outputs.argmax(1), labels, strict=True)]
    )
    assert accuracy >= 0.95 and model.name == "digits-mlp" and model.input_dim == 64


def test_private_copy_gives_the_same_answers() -> None:
    rows = np.asarray(holdout()[0][:16], np.float32)
    shared = load_artifact(DEFAULT_MODEL, mmap=True).predictor.predict(rows)
    private = load_artifact(DEFAULT_MODEL, mmap=False).predictor.predict(rows)
    assert np.array_equal(shared, private)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, target)
    return target


def test_artifact_with_unchained_shapes_is_refused(artifact: Path) -> None:
    np.save(artifact / "layer1_weight.npy", np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="layer 1: shapes"):
        load_artifact(artifact)


def test_artifact_with_float64_weights_is_refused(artifact: Path) -> None:
    np.save(artifact / "layer0_bias.npy", np.zeros(1536, np.float64))
    with pytest.raises(ValueError, match="must be float32"):
        load_artifact(artifact)


def test_artifact_with_unknown_activation_is_refused(artifact: Path) -> None:
    meta = json.loads((artifact / "model.json").read_text())
    meta["layers"][0]["activation"] = "gelu"
    (artifact / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        load_artifact(artifact)


def test_model_class_hook_serves_a_custom_model(tmp_path: Path) -> None:
    centroids = np.stack([np.full(8, float(i), np.float32) for i in range(3)])
    np.save(tmp_path / "centroids.npy", centroids)
    settings = Settings(model_dir=tmp_path, model_class="examples.nearest_centroid:load")
    with TestClient(create_app(settings)) as client:
        body = client.post("/v1/predict", json={"inputs": [[2.1] * 8, [0.2] * 8]}).json()
        info = client.get("/info").json()["model"]
    assert body["labels"] == ["2", "0"]
    assert info["name"] == "nearest-centroid" and info["input_dim"] == 8


def test_model_class_without_predict_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="without predict"):
        load_model(tmp_path, "pathlib:Path")


class _NoWidth:
    def predict(self, batch: np.ndarray) -> np.ndarray:
        return batch


def no_width_factory(model_dir: object) -> _NoWidth:
    return _NoWidth()


def test_model_class_without_input_dim_is_refused_naming_it(tmp_path: Path) -> None:
    # input_dim is required (README "Your own model"): every row is checked against it.
    with pytest.raises(TypeError, match="without input_dim"):
        load_model(tmp_path, "test_model:no_width_factory")


def test_model_class_must_name_a_factory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MODEL_CLASS must look like"):
        Settings(model_dir=tmp_path, model_class="just_a_module")


def test_synthetic_model_has_the_asked_size_and_runs(tmp_path: Path) -> None:
    make_synthetic_model.make(64, tmp_path)
    size_mib = sum(f.stat().st_size for f in tmp_path.glob("*.npy")) / 2**20
    model = load_artifact(tmp_path)
    outputs = model.predictor.predict(np.ones((3, 64), np.float32))
    assert 60 <= size_mib <= 66
    assert outputs.shape == (3, 10) and np.isfinite(outputs).all()


def test_synthetic_model_layout_reaches_a_gibibyte() -> None:
    layers, width = make_synthetic_model.hidden_shape(1024)
    assert abs(layers * width * width * 4 / 2**20 - 1024) < 1024 * 0.02
