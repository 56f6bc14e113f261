"""Which model a MODEL_DIR holds, loaded as the one `LoadedModel` every layer above uses.

Three kinds, in this order:
- `model.onnx`: any ONNX graph, run by ONNX Runtime (service/inference/onnx_model.py); its
  inputs and outputs are the graph's, named and typed.
- `MODEL_CLASS=package.module:factory`: the factory gets the model directory and returns any
  object with `predict(batch: float32[n, d]) -> [n, k]` and `input_dim` (d, an int: every
  row is checked against it), and optionally `name`, `version` and `labels` (README "Your
  own model"). MODEL_MMAP only tells the memory plan whether it shares its weights.
- `model.json` + `.npy` weights: the built-in MLP, memory-mapped.
The last two are "rows" models: one FP32 input `input-0` [n, d] and outputs `probabilities`
[n, k] and, with labels, `label` (the argmax's label).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from service.inference.loaded import LoadedModel, Predictor, rows_model
from service.inference.mlp import MLP
from service.settings import DEFAULT_CACHE_DIR

ACTIVATIONS = ("relu", "softmax", "identity")


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if array.dtype != np.float32:
        raise ValueError(f"{path.name}: weights must be float32, got {array.dtype}")
    # A plain ndarray view over the mapping: memmap's subclass hooks cost on every matmul.
    return np.asarray(array)


def load_artifact(
    model_dir: Path,
    mmap: bool = True,
    runtime: str = "onnxruntime",
    threads: int = 1,
    packed: bool = True,
) -> LoadedModel:
    """`runtime`: "onnxruntime" or "numpy" (MODEL_RUNTIME); `packed`: onnxruntime packs the
    weights once per process, else it runs on the mapped copy too (MODEL_PACKING)."""
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

        predictor = PackedMLP(layers, threads, prepack=packed)
    elif runtime != "numpy":
        raise ValueError(f"MODEL_RUNTIME must be 'onnxruntime' or 'numpy', got {runtime!r}")
    return rows_model(
        predictor,
        str(meta["name"]),
        str(meta.get("version", "1")),
        int(meta["input_dim"]),
        labels,
        bytes=total,
        platform="onnxruntime_onnx" if runtime == "onnxruntime" else "numpy",
        packed=runtime == "onnxruntime" and packed,
        fixed_cost=True,
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
    return rows_model(
        predictor,
        str(getattr(predictor, "name", module_name.rpartition(".")[2])),
        str(getattr(predictor, "version", "1")),
        input_dim,
        [str(label) for label in getattr(predictor, "labels", [])],
        bytes=directory_bytes(model_dir),
    )


def directory_bytes(model_dir: Path) -> int:
    """What a MODEL_CLASS model may hold: every file under its directory."""
    return sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file())


def load_model(
    model_dir: Path,
    model_class: str | None,
    mmap: bool = True,
    runtime: str = "onnxruntime",
    threads: int = 1,
    *,
    packed: bool | None = None,
    name: str | None = None,
    version: str | None = None,
    cache_dir: Path | None = None,
) -> LoadedModel:
    """`packed`: the plan's choice (None: the runtime's default, onnxruntime packs).

    `name`/`version` (MODEL_NAME/MODEL_VERSION) name an ONNX model whose directory has no
    model.json saying so; else the directory's name and "1".
    """
    if model_class:
        return load_custom(model_class, model_dir)
    if (model_dir / ONNX_FILE).is_file():
        from service.inference.onnx_model import load_onnx  # ONNX Runtime only when needed

        meta = _naming(model_dir)
        return load_onnx(
            model_dir / ONNX_FILE,
            name=str(meta.get("name") or name or model_dir.resolve().name),
            version=str(meta.get("version") or version or "1"),
            threads=threads,
            packed=bool(packed),
            cache_dir=cache_dir or DEFAULT_CACHE_DIR,
        )
    return load_artifact(model_dir, mmap, runtime, threads, packed=packed is not False)


ONNX_FILE = "model.onnx"


def _naming(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "model.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f'{path.name} must be a JSON object like {{"name": ...}}')
    return meta
