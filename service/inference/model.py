"""Model artifacts: load `model.json` + `.npy` weights (memory-mapped) and run them.

A user's own model plugs in through `MODEL_CLASS=package.module:factory`: the factory gets
the model directory and returns any object with `predict(batch: float32[n, d]) -> [n, k]`
and `input_dim` (d, an int: every row is checked against it), and optionally `name`,
`version` and `labels` (see README "Your own model"). MODEL_MMAP only tells the memory plan
whether such a factory shares its weights across workers; loading them is the factory's.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from service.inference.mlp import MLP

ACTIVATIONS = ("relu", "softmax", "identity")


class Predictor(Protocol):
    def predict(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass
class LoadedModel:
    """What the service needs to know about any model, built-in or plugged in."""

    predictor: Predictor
    name: str
    version: str
    input_dim: int
    labels: list[str] = field(default_factory=list)
    bytes: int = 0
    # What runs it, in Triton's platform names (the Open Inference Protocol's metadata).
    platform: str = "python"


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if array.dtype != np.float32:
        raise ValueError(f"{path.name}: weights must be float32, got {array.dtype}")
    # A plain ndarray view over the mapping: memmap's subclass hooks cost on every matmul.
    return np.asarray(array)


def load_artifact(
    model_dir: Path, mmap: bool = True, runtime: str = "onnxruntime", threads: int = 1
) -> LoadedModel:
    """`runtime`: "onnxruntime" (weights packed once per process) or "numpy" (MODEL_RUNTIME)."""
    meta = json.loads((model_dir / "model.json").read_text())
    layers = []
    total = 0
    width = int(meta["input_dim"])
    for i, spec in enumerate(meta["layers"]):
        weight = _load_array(model_dir / spec["weight"], mmap)
        bias = _load_array(model_dir / spec["bias"], mmap)
        activation = spec.get("activation", "identity")
        if activation not in ACTIVATIONS:
            raise ValueError(f"layer {i}: unknown activation {activation!r}")
        if weight.ndim != 2 or weight.shape[0] != width or bias.shape != (weight.shape[1],):
            raise ValueError(
                f"layer {i}: shapes {weight.shape} / {bias.shape} do not chain from {width}"
            )
        width = weight.shape[1]
        total += weight.nbytes + bias.nbytes
        layers.append((weight, bias, activation))
    labels = [str(label) for label in meta.get("labels", [])]
    if labels and len(labels) != width:
        raise ValueError(f"{len(labels)} labels for {width} outputs")
    predictor: Predictor = MLP(layers)
    if runtime == "onnxruntime":
        # Imported here: the numpy runtime never loads ONNX Runtime.
        from service.inference.packed_mlp import PackedMLP

        predictor = PackedMLP(layers, threads)
    elif runtime != "numpy":
        raise ValueError(f"MODEL_RUNTIME must be 'onnxruntime' or 'numpy', got {runtime!r}")
    return LoadedModel(
        predictor=predictor,
        name=str(meta["name"]),
        version=str(meta.get("version", "1")),
        input_dim=int(meta["input_dim"]),
        labels=labels,
        bytes=total,
        platform="onnxruntime_onnx" if runtime == "onnxruntime" else "numpy",
    )


def load_custom(spec: str, model_dir: Path) -> LoadedModel:
    module_name, _, attr = spec.partition(":")
    factory: Any = getattr(importlib.import_module(module_name), attr)
    predictor = factory(model_dir)
    if not callable(getattr(predictor, "predict", None)):
        raise TypeError(f"MODEL_CLASS {spec!r} returned an object without predict(batch)")
    input_dim = getattr(predictor, "input_dim", None)
    if type(input_dim) is not int or input_dim < 1:
        raise TypeError(
            f"MODEL_CLASS {spec!r} returned an object without input_dim (a positive int,"
            f" got {input_dim!r}): every request row is checked against it"
        )
    return LoadedModel(
        predictor=predictor,
        name=str(getattr(predictor, "name", module_name.rpartition(".")[2])),
        version=str(getattr(predictor, "version", "1")),
        input_dim=input_dim,
        labels=[str(label) for label in getattr(predictor, "labels", [])],
        bytes=sum(f.stat().st_size for f in model_dir.glob("*.npy")),
    )


def load_model(
    model_dir: Path,
    model_class: str | None,
    mmap: bool = True,
    runtime: str = "onnxruntime",
    threads: int = 1,
) -> LoadedModel:
    if model_class:
        return load_custom(model_class, model_dir)
    return load_artifact(model_dir, mmap, runtime, threads)
