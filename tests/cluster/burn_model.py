"""A MODEL_CLASS model for the job tests: each call spends row 0's first value in seconds of
CPU (a busy loop holding the GIL, as a real CPU-bound model would), then answers twice each
row's sum, so every job's right output is known. Standard library and numpy only: it is
fetched into the pods by an init container (tests/cluster/model_server.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


class Burn:
    name = "burn"
    input_dim = 4

    def predict(self, batch: np.ndarray) -> np.ndarray:
        deadline = time.monotonic() + float(batch[0, 0])
        x = 1.0
        while time.monotonic() < deadline:
            for _ in range(10_000):
                x = (x * 1.000001) % 7.0
        return (2 * np.asarray(batch, dtype=np.float32).sum(axis=1, keepdims=True)).astype(
            np.float32
        )


def load(model_dir: Path) -> Burn:
    return Burn()
