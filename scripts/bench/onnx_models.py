"""Synthetic ONNX MLPs and the ways a worker can open one, for `bench onnx-memory`.

Models are what exporters write by default: Gemm layers with the weight stored [out, in]
(transB=1, as torch.onnx exports nn.Linear) and every weight inline in model.onnx (torch and
skl2onnx below 2 GiB). The `transposed` form stores MatMul weights behind a Transpose node,
which ONNX Runtime's constant folding rewrites into a new initializer at session start.

Routes (how W workers get the weights; `prepare` runs once, `open` in every worker):
  inline    ONNX Runtime's default session on model.onnx (what a worker does today)
  memmap    (a) graph without weights + one page-aligned file; numpy maps it, OrtValues reach
            the session through add_external_initializers, read in place only with
            session.use_external_initializer_file_buffers_directly (memmap-copied: without it,
            ONNX Runtime 1.32 copies every one into the heap, prepacking off or not)
  external  (b) ONNX external data at page-aligned offsets; ONNX Runtime maps the file itself
  prepared  (c) service.inference.onnx_session: ONNX Runtime's optimized graph saved with its
            initializers (and, packed, its packed weights) in one aligned file it maps
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from service.inference.onnx_session import (
    open_session,
    prepare_shared,
    session_options,
    trim_heap,
)

ROUTES = ("inline", "memmap", "external", "prepared")
SIDE_ROUTES = ("memmap-copied",)
INPUT_DIM, OUTPUTS = 512, 10
# (hidden width, hidden layers) giving about 1, 100 and 500 MiB of float32 weights.
SHAPES = {1: (256, 3), 100: (2048, 7), 500: (3968, 9)}
ALIGN = 4096  # the page: mmap maps whole pages from page-aligned offsets
OPSET = 17


def dims(size_mib: int) -> list[int]:
    width, layers = SHAPES[size_mib]
    return [INPUT_DIM, *([width] * layers), OUTPUTS]


def write_mlp(path: Path, widths: list[int], transposed: bool = False, seed: int = 0) -> None:
    """model.onnx with inline float32 weights: Gemm(transB=1) layers, ReLU between them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, initializers, x = [], [], "input"
    for i, (rows, cols) in enumerate(itertools.pairwise(widths)):
        weight = rng.standard_normal((cols, rows), dtype=np.float32) / np.float32(rows**0.5)
        w, b, y = f"fc{i}.weight", f"fc{i}.bias", f"fc{i}"
        initializers += [numpy_helper.from_array(weight, w)]
        initializers += [numpy_helper.from_array(np.zeros(cols, np.float32), b)]
        if transposed:
            nodes.append(helper.make_node("Transpose", [w], [f"{w}.t"], perm=[1, 0]))
            nodes.append(helper.make_node("MatMul", [x, f"{w}.t"], [f"{y}.mm"]))
            nodes.append(helper.make_node("Add", [f"{y}.mm", b], [y]))
        else:
            nodes.append(helper.make_node("Gemm", [x, w, b], [y], transB=1))
        x = y
        if i < len(widths) - 2:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"]))
            x = f"relu{i}"
    batch: list[str | int] = ["batch", widths[0]]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, batch)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", widths[-1]])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, path)


def _aligned_layout(model: Any) -> list[tuple[Any, int, bytes]]:
    """(initializer, offset, bytes) with every offset on a page boundary, one file."""
    layout, offset = [], 0
    for tensor in model.graph.initializer:
        offset = -(-offset // ALIGN) * ALIGN
        layout.append((tensor, offset, tensor.raw_data))
        offset += len(tensor.raw_data)
    return layout


def _write_weights(path: Path, layout: list[tuple[Any, int, bytes]]) -> None:
    with path.open("wb") as f:
        for _, offset, data in layout:
            f.seek(offset)
            f.write(data)


def prepare(route: str, source: Path, into: Path, packed: bool) -> Path:
    """What the workers open, made once from the inline model `source`."""
    if route == "inline":
        return source
    route = route.removesuffix("-copied")
    if route == "prepared":
        return prepare_shared(source, into / "cache", packed)
    import onnx
    from onnx.external_data_helper import set_external_data

    model = onnx.load(source)
    layout = _aligned_layout(model)
    into.mkdir(parents=True, exist_ok=True)
    _write_weights(into / "weights.bin", layout)
    index = {}
    for tensor, offset, data in layout:
        index[tensor.name] = [offset, list(tensor.dims)]
        # memmap: a stand-in location the session must be given (ONNX Runtime never reads it).
        where = ("weights.bin", offset, len(data)) if route == "external" else ("absent", 0, 0)
        set_external_data(tensor, *where)
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
    (into / "index.json").write_text(json.dumps(index))
    onnx.save_model(model, into / "model.onnx")
    return into / "model.onnx"


def open_route(
    route: str, model: Path, threads: int, packed: bool, level: str = "", trim: bool = True
) -> Any:
    """A session as a worker of this route makes it: open_session, or the same options with
    one change (a graph optimization level, no heap trim, or the memmap initializers)."""
    import onnxruntime as ort

    if not route.startswith("memmap") and not level and trim:
        return open_session(model, threads, packed)
    options = session_options(threads, packed, optimize=route != "prepared")
    if level:
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    keep: list[Any] = []
    if route.startswith("memmap"):
        if route == "memmap":
            direct = "session.use_external_initializer_file_buffers_directly"
            options.add_session_config_entry(direct, "1")
        mapped = np.memmap(model.parent / "weights.bin", dtype=np.uint8, mode="r")
        names, values = [], []
        index = json.loads((model.parent / "index.json").read_text())
        for name, (offset, shape) in index.items():
            count = int(np.prod(shape)) if shape else 1
            array = np.frombuffer(mapped, np.float32, count, offset).reshape(shape)
            names.append(name)
            values.append(ort.OrtValue.ortvalue_from_numpy(array))
        options.add_external_initializers(names, values)
        keep = [mapped, values]
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    if trim:
        trim_heap()
    session.keep = keep  # the mapping and OrtValues the session reads
    return session
