"""A MODEL_CLASS model whose inference thread hangs on demand (issue 22, fault 6).

It serves the built-in MLP artifact of its model directory (model.json and float32 .npy
weights; in the service image the embedded digits model, /app/models/default) with numpy,
named and labelled as model.json says: the load tests send it the held-out digits and check
its labels as they do the embedded model's. A batch holding a row whose first value is HANG
(1e6, never a feature of a digit) blocks its call forever, as a model stuck in native code
would: that worker's inference thread is hung while its event loop keeps answering.

    {"inputs": [[1000000.0, 0, 0, ...]]}   (the model's input_dim values; 64 for digits)

Standard library and numpy only: a pod loads it from a ConfigMap or an init container, and
the live tests serve it as `tests.cluster.hang_model:load`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

HANG = 1e6


class HangOnDemand:
    def __init__(self, model_dir: Path) -> None:
        meta = json.loads((model_dir / "model.json").read_text())
        self.name = str(meta["name"])
        self.version = f"{meta.get('version', '1')}-hang"
        self.input_dim = int(meta["input_dim"])
        self.labels = [str(label) for label in meta.get("labels", [])]
        # Mapped, as the service maps the built-in model: its workers share one copy.
        self.layers = [
            (_mapped(model_dir / layer["weight"]), _mapped(model_dir / layer["bias"]),
             layer.get("activation", "identity"))
            for layer in meta["layers"]
        ]  # fmt: skip
        self._never = threading.Event()  # nothing sets it

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch, dtype=np.float32)
        if (x[:, 0] == HANG).any():
            self._never.wait()
        for weight, bias, activation in self.layers:
            x = x @ weight + bias
            if activation == "relu":
                x = np.maximum(x, 0)
            elif activation == "softmax":
                x = np.exp(x - x.max(axis=1, keepdims=True))
                x /= x.sum(axis=1, keepdims=True)
        return x.astype(np.float32, copy=False)


def _mapped(path: Path) -> np.ndarray:
    return np.asarray(np.load(path, mmap_mode="r"))  # a plain view: no memmap per-call hooks


def load(model_dir: Path) -> HangOnDemand:
    return HangOnDemand(model_dir)
