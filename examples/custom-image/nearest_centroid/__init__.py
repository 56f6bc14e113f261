"""The user's code in this image: examples/nearest_centroid.py, as a package.

    MODEL_CLASS=nearest_centroid:load MODEL_DIR=/app/models/nearest-centroid (the Dockerfile)

Only its docstring differs from the original (tests/chart/test_custom_image.py holds them
equal), so the end-to-end rig can check the container's answers against it in-process.
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
