"""ONNX Runtime sessions for a user's model.onnx, its weights in one copy for every worker.

ONNX Runtime reads a model's inline weights into each process's heap: W workers, W copies.
`prepare_shared` converts model.onnx once (in a child process) into ONNX Runtime's own
optimized graph with its weights in one file beside it, which each worker's session then
memory-maps: the page cache holds one copy for all workers (reports/onnx_memory.json). Graph
optimizations ran once, in the conversion, and are saved in that file, so no worker
constant-folds a private copy of a weight at start.

packed=True also saves ONNX Runtime's packed layout of the weights (faster batches of several
rows) in the file, and the workers map that packed copy instead of each packing its own. While
loading, a worker reads the plain weights once (left to the page cache, which the kernel drops
under a limit) and holds about its largest weight on the heap; on disk the packed file holds
both layouts. Without `cache_dir` a model is opened with ONNX Runtime's defaults: inline
weights are then a private copy per worker, and packed=True another one per worker.

Imports nothing heavy at module level: gunicorn's master may call `prepare_shared` and
`onnx_weights_bytes` without loading ONNX Runtime.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import onnxruntime as ort

WEIGHTS = "weights.bin"
MARKER = "prepared.json"
# Bump when the conversion changes, so caches made by an older recipe are made again.
RECIPE = 1
# Initializers below this stay inside the graph file (ONNX Runtime's own default threshold).
EXTERNAL_MIN_BYTES = 1024
# Idle intra-op threads sleep at once. With one thread per worker there is no pool to spin;
# with two, spinning was never faster here and burnt 0.86 cores instead of 0.06 at one call
# every 2 ms: CPU the other workers and the HPA's signal need (reports/onnx_threads.json).
SPINNING = False


def session_options(
    threads: int, packed: bool, *, optimize: bool = True, spinning: bool = SPINNING
) -> ort.SessionOptions:
    """The plan's threads, one inference at a time; prepacking only when `packed`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.disable_prepacking", "0" if packed else "1")
    # A prepared graph is already optimized: optimizing again could only add private copies.
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    return options


def open_session(
    model_path: Path,
    threads: int,
    packed: bool,
    cache_dir: Path | None = None,
    *,
    spinning: bool = SPINNING,
) -> ort.InferenceSession:
    """A CPU session on model_path; with `cache_dir`, on its prepared copy (made if missing).

    Without `cache_dir`, a prepared copy (prepare_shared's path) is opened as it is and any
    other model with ONNX Runtime's default optimizations (private copies, see above).
    """
    import onnxruntime as ort

    if cache_dir is not None:
        model_path = prepare_shared(model_path, cache_dir, packed)
    prepared = (model_path.parent / MARKER).exists()
    options = session_options(threads, packed, optimize=not prepared, spinning=spinning)
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    trim_heap()
    return session


def trim_heap() -> None:
    # Loading frees large temporary buffers that glibc keeps on the heap (its raised mmap
    # threshold): 32 MiB per worker at 100 MiB packed until trimmed (reports/onnx_memory.json).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def prepare_shared(model_path: Path, cache_dir: Path, packed: bool = False) -> Path:
    """The prepared copy of model_path under cache_dir (its model.onnx), made once.

    Safe when W workers call it at once: one converts under a lock, the others wait for it,
    and a copy appears only whole (renamed into place). Keyed by the model files' sizes and
    times, ONNX Runtime's version and the CPU, so a replaced model is prepared again.
    gunicorn's master calls it before forking so workers start on a ready copy.
    """
    source = model_path.resolve()
    final = cache_dir / _key(source, packed)
    if (final / MARKER).exists():
        return final / source.name
    # The packed copy is made from the shared one: ONNX Runtime then maps the plain weights
    # while packing instead of holding them twice on the heap (the conversion's peak).
    start = prepare_shared(source, cache_dir, False) if packed else source
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f".{final.name}.lock"):
        if not (final / MARKER).exists():
            for stale in cache_dir.glob(f".{final.name}.tmp*"):  # a conversion that died
                shutil.rmtree(stale, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp", dir=cache_dir))
            try:
                _in_child(str(start), str(tmp / source.name), packed)
                (tmp / MARKER).write_text(json.dumps(_identity(source, packed), indent=1) + "\n")
                for written in tmp.iterdir():
                    with written.open("rb") as f:
                        os.fsync(f.fileno())
                tmp.chmod(0o755)  # mkdtemp's 0700 would shut out workers run as another user
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    if packed:
        shutil.rmtree(start.parent, ignore_errors=True)  # its only use was as the source
    return final / source.name


def _in_child(source: str, target: str, packed: bool) -> None:
    # A child process: the conversion's heap (the model read whole) goes back to the system
    # when it exits, never kept by the master or a worker. This file run as a script: it
    # imports no `service` module, and -P keeps its folder off sys.path.
    args = [sys.executable, "-P", __file__, source, target, "packed" if packed else "shared"]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"preparing {source} for shared weights failed: {tail}")


def _convert(source: str, target: str, packed: bool) -> None:
    import onnxruntime as ort

    options = session_options(1, packed, optimize=not packed)  # packed starts from prepared
    options.log_severity_level = 3  # "optimized for this hardware": the key names the CPU
    options.optimized_model_filepath = target
    for key, value in (
        ("session.optimized_model_external_initializers_file_name", WEIGHTS),
        ("session.optimized_model_external_initializers_min_size_in_bytes", EXTERNAL_MIN_BYTES),
        ("session.save_external_prepacked_constant_initializers", int(packed)),
    ):
        options.add_session_config_entry(key, str(value))
    ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _identity(source: Path, packed: bool) -> dict[str, object]:
    """What a prepared copy depends on: the model's files, ONNX Runtime and the CPU (the
    optimized graph and the packed layout are made for this CPU's kernels)."""
    files = [source, *external_data_files(source)]
    return {
        "recipe": RECIPE,
        "packed": packed,
        "source": str(source),
        "files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "onnxruntime": version("onnxruntime"),
        "cpu": _cpu_signature(),
    }


def _key(source: Path, packed: bool) -> str:
    digest = hashlib.sha256(json.dumps(_identity(source, packed)).encode()).hexdigest()[:16]
    return f"{source.stem}-{'packed' if packed else 'shared'}-{digest}"


def _cpu_signature() -> str:
    lines = []
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith(("model name", "flags")):
                lines.append(line)
            if len(lines) == 2:
                break
    return platform.machine() + ":" + hashlib.sha256("".join(lines).encode()).hexdigest()[:16]


def onnx_weights_bytes(model_dir: Path) -> int:
    """Bytes of one copy of the weights: model.onnx and the external data files it names."""
    model = model_dir / "model.onnx"
    return sum(f.stat().st_size for f in [model, *external_data_files(model)])


def external_data_files(model: Path) -> list[Path]:
    """The files model's initializers keep their bytes in (ONNX external data).

    Read from the protobuf wire format, seeking past the weights: no onnx import and never
    the model in memory (gunicorn's master calls it on models of gigabytes).
    """
    found: dict[Path, None] = {}
    with model.open("rb") as f:
        for number, start, length in _fields(f, 0, model.stat().st_size):
            if number != 7:  # ModelProto.graph
                continue
            for number, t_start, t_length in _fields(f, start, start + length):
                if number != 5:  # GraphProto.initializer
                    continue
                for number, e_start, e_length in _fields(f, t_start, t_start + t_length):
                    if number == 13:  # TensorProto.external_data
                        entry = _strings(f, e_start, e_start + e_length)
                        if entry.get(1) == "location" and 2 in entry:
                            found[model.parent / entry[2]] = None
    return list(found)


def _varint(f: BinaryIO) -> int:
    result, shift = 0, 0
    while True:
        byte = f.read(1)
        if not byte:
            raise ValueError(f"{f.name} ends inside a field: not an ONNX model")
        result |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return result
        shift += 7


def _fields(f: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(number, offset, length) of each length-delimited protobuf field in [start, end)."""
    position = start
    while position < end:
        f.seek(position)  # again after each yield: the caller may have read elsewhere
        tag = _varint(f)
        kind = tag & 7
        if kind == 2:
            length = _varint(f)
            offset = f.tell()
            yield tag >> 3, offset, length
            position = offset + length
        elif kind == 0:
            _varint(f)
            position = f.tell()
        elif kind in (1, 5):
            position = f.tell() + (8 if kind == 1 else 4)
        else:
            raise ValueError(f"{f.name}: protobuf wire type {kind}: not an ONNX model")


def _strings(f: BinaryIO, start: int, end: int) -> dict[int, str]:
    values = {}
    for number, offset, length in list(_fields(f, start, end)):
        f.seek(offset)
        values[number] = f.read(length).decode()
    return values


if __name__ == "__main__":  # the conversion's child process (_in_child)
    _convert(sys.argv[1], sys.argv[2], sys.argv[3] == "packed")
