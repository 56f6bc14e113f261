"""The floor model: the served model's shape and labels, none of its compute."""

from __future__ import annotations

import numpy as np

from scripts.bench.floor import load
from service.inference.model import load_artifact, load_model
from service.settings import DEFAULT_MODEL_DIR


def test_floor_answers_in_the_served_models_shape() -> None:
    real = load_artifact(DEFAULT_MODEL_DIR)
    floor = load_model(DEFAULT_MODEL_DIR, "scripts.bench.floor:load")
    assert (floor.input_dim, floor.labels, floor.name) == (real.input_dim, real.labels, real.name)
    width = real.rows_width()
    out = floor.predictor.predict(np.zeros((3, width), np.float32))
    assert out.shape == real.predictor.predict(np.zeros((3, width), np.float32)).shape
    assert np.allclose(out.sum(axis=1), 1.0)
    assert load(DEFAULT_MODEL_DIR).predict(np.zeros((0, width), np.float32)).shape[0] == 0
