"""The built-in MLP on ONNX Runtime, with its weights packed once for the GEMM kernel.

numpy's matmul (OpenBLAS) re-packs the whole weight matrix on every call: for a batch of a
few rows that copy costs more than the arithmetic (the default model: 2 rows take 4x as long
as 1, 8 rows 5.6x). ONNX Runtime packs constant weights once when the session is made, so a
batch costs what its rows cost and micro-batching pays from 2 rows up (reports/benchmark.md,
"Compute limit"). The price is one packed copy per worker, which the memory plan counts
(`resources.plan`, MODEL_RUNTIME). The memory-mapped arrays are handed to the session as
external initializers: read once from the shared page cache, never copied into the heap.

A batch of very few rows needs no packing: OpenBLAS's own kernel on the mapped weights is then
as fast or faster (on one Intel Xeon here a single row took 0.44 ms through numpy and 0.82 ms
through the session; on an AMD EPYC the two tied). Which is faster depends on the CPU, so it is
measured once, when the model loads: batches below `numpy_below` rows take numpy's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from service.inference.mlp import MLP

OPSET = 17
CALIBRATION_ROWS = (1, 2, 3, 4)
CALIBRATION_RUNS = 7


def _best_seconds(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> float:
    best = float("inf")
    for _ in range(CALIBRATION_RUNS):
        started = time.perf_counter()
        predict(batch)
        best = min(best, time.perf_counter() - started)
    return best


def _initializer(name: str, array: np.ndarray) -> TensorProto:
    # Declared without bytes: the session takes the data from `add_external_initializers`.
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(array.shape))
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", f"{name}.bin"), ("offset", "0"), ("length", "0")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _graph(layers: list[tuple[np.ndarray, np.ndarray, str]]) -> bytes:
    nodes, initializers = [], []
    x = "rows"
    for i, (weight, bias, activation) in enumerate(layers):
        w, b, y = f"w{i}", f"b{i}", f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [x, w, b], [y]))
        initializers += [_initializer(w, weight), _initializer(b, bias)]
        if activation == "relu":
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"]))
            y = f"relu{i}"
        elif activation == "softmax":
            nodes.append(helper.make_node("Softmax", [y], [f"softmax{i}"], axis=1))
            y = f"softmax{i}"
        x = y
    width_in, width_out = layers[0][0].shape[0], layers[-1][0].shape[1]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["batch", width_in])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", width_out])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return bytes(model.SerializeToString())


class PackedMLP:
    """Same layers and answers as `model.MLP` (float32 rounding aside), run by ONNX Runtime."""

    def __init__(
        self,
        layers: list[tuple[np.ndarray, np.ndarray, str]],
        threads: int,
        calibrate: bool = True,
        prepack: bool = True,
    ) -> None:
        self.layers = layers  # the session reads them as given: they must outlive it
        self._unpacked = MLP(layers)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads sleep instead of spinning: a spinning pool burns the CPU the HPA
        # and the other worker need (the BLAS oversubscription this project exists to avoid).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not prepack:
            # MODEL_PACKING=shared: the kernels read the mapped weights in place. Without the
            # second entry ONNX Runtime copies the arrays into each worker's heap (20 MiB of
            # the default model per worker, 1.6 MiB with it: reports/onnx_memory.json's note).
            options.add_session_config_entry("session.disable_prepacking", "1")
            options.add_session_config_entry(
                "session.use_external_initializer_file_buffers_directly", "1"
            )
        options.log_severity_level = 3  # warnings about unused initializers are not ours
        names, values = [], []
        for i, (weight, bias, _) in enumerate(layers):
            names += [f"w{i}", f"b{i}"]
            values += [ort.OrtValue.ortvalue_from_numpy(a) for a in (weight, bias)]
        options.add_external_initializers(names, values)
        self._values = values  # the OrtValues wrap the arrays without a copy: keep them too
        self._session = ort.InferenceSession(
            _graph(layers), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self.numpy_below = self._calibrate() if calibrate else 1

    def _calibrate(self) -> int:
        """1 + the most rows up to which numpy was faster at every size (1: never)."""
        below = 1
        for rows in CALIBRATION_ROWS:
            batch = np.zeros((rows, self.layers[0][0].shape[0]), np.float32)
            self._run(batch)  # pages the weights in, starts the thread pools
            self._unpacked.predict(batch)
            if _best_seconds(self._unpacked.predict, batch) >= _best_seconds(self._run, batch):
                break
            below = rows + 1
        return below

    def predict(self, batch: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(batch, dtype=np.float32)
        if len(rows) < self.numpy_below:
            return self._unpacked.predict(rows)
        return self._run(rows)

    def _run(self, rows: np.ndarray) -> np.ndarray:
        # run() releases the GIL for the whole graph, as numpy's matmul does per layer.
        outputs: np.ndarray = self._session.run(None, {self._input: rows})[0]
        return outputs
