"""A custom model for MODEL_CLASS: nearest-centroid classification with plain numpy.

    MODEL_CLASS=examples.nearest_centroid:load MODEL_DIR=path/with/centroids.npy gunicorn ...

The factory gets MODEL_DIR and returns an object with predict(batch: float32[n, d]) -> [n, k]
and input_dim (d, checked against every row); name, version and labels are optional
attributes the service reports. examples/custom-image/ builds it into an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class NearestCentroid:
    name = "nearest-centroid"
    version = "1"

    def __init__(self, centroids: np.ndarray) -> None:
        self.centroids = centroids
        self.input_dim = centroids.shape[1]
        self.labels = [str(i) for i in range(len(centroids))]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        # Softmax over negative squared distances: a probability per centroid.
        distances = ((batch[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        scores = -(distances - distances.min(axis=1, keepdims=True))
        weights = np.exp(scores / scores.shape[1])
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def load(model_dir: Path) -> NearestCentroid:
    return NearestCentroid(np.load(model_dir / "centroids.npy", mmap_mode="r"))
