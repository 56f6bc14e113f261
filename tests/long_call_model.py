"""A MODEL_CLASS model whose call takes as long as its input says: row 0's first value in
seconds, spent in the inference thread as a real call would spend it (the liveness tests)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


class LongCall:
    name = "long-call"
    input_dim = 1

    def predict(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(float(batch[0, 0]))
        return np.asarray(batch, dtype=np.float32)


def load(model_dir: Path) -> LongCall:
    return LongCall()
