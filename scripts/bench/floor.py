"""The no-model floor: corebound's own stack serving a model that costs nothing.

    MODEL_CLASS=scripts.bench.floor:load MODEL_DIR=models/default gunicorn ...

Same width, labels and outputs shape as the artifact in MODEL_DIR, so the same requests
and the same response encoding run; only the model's compute is gone. What this stack
serves per second this way is the HTTP floor the benchmark's machine limit is built on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class Floor:
    def __init__(self, meta: dict[str, object], outputs: int) -> None:
        self.name = str(meta["name"])
        self.version = str(meta["version"])
        self.input_dim = int(str(meta["input_dim"]))
        labels = meta.get("labels") or []
        self.labels = [str(label) for label in labels] if isinstance(labels, list) else []
        self._row = np.full((1, outputs), 1.0 / outputs, np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.repeat(self._row, len(batch), axis=0)


def load(model_dir: Path) -> Floor:
    meta = json.loads((Path(model_dir) / "model.json").read_text())
    last = meta["layers"][-1]
    outputs = int(np.load(Path(model_dir) / last["bias"], mmap_mode="r").shape[0])
    return Floor(meta, outputs)
