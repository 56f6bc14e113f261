"""Write a synthetic model of a given size in the artifact format, for memory sizing.

Random float32 weights (scaled so activations stay finite), 64 inputs and 10 labels like
the default model, so the same clients work. Written in chunks: a 1 GiB model never needs
1 GiB of RAM here.

    python -m scripts.modelgen synthetic --size-mib 500 --out /tmp/model-500
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

INPUT_DIM, OUTPUTS = 64, 10
LAYER_MIB = 256  # one square hidden layer at most this big, so sizes land close to the target
CHUNK_ROWS = 256


def hidden_shape(size_mib: float) -> tuple[int, int]:
    """(square layers, width) whose weights add up to about size_mib."""
    layers = max(1, math.ceil(size_mib / LAYER_MIB))
    width = int(math.sqrt(size_mib * 2**20 / 4 / layers)) // 64 * 64
    return layers, max(64, width)


def write_weight(path: Path, rows: int, cols: int, rng: np.random.Generator) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols))
    scale = np.float32(1.0 / math.sqrt(rows))
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(rows, start + CHUNK_ROWS)
        out[start:stop] = rng.standard_normal((stop - start, cols), dtype=np.float32) * scale
    out.flush()
    del out


def make(size_mib: float, out: Path, seed: int = 0) -> dict[str, Any]:
    count, width = hidden_shape(size_mib)
    dims = [INPUT_DIM, width, *([width] * count), OUTPUTS]
    return make_mlp(dims, out, f"synthetic-{round(size_mib)}mib", seed)


def make_mlp(dims: list[int], out: Path, name: str, seed: int = 0) -> dict[str, Any]:
    """An MLP with these layer widths (inputs first, labels last), ReLU then softmax."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    layers = []
    for i, (rows, cols) in enumerate(itertools.pairwise(dims)):
        write_weight(out / f"layer{i}_weight.npy", rows, cols, rng)
        np.save(out / f"layer{i}_bias.npy", np.zeros(cols, dtype=np.float32))
        last = i == len(dims) - 2
        layers.append(
            {
                "weight": f"layer{i}_weight.npy",
                "bias": f"layer{i}_bias.npy",
                "activation": "softmax" if last else "relu",
            }
        )
    meta = {
        "name": name,
        "version": f"seed{seed}",
        "input_dim": dims[0],
        "labels": [str(i) for i in range(dims[-1])],
        "layers": layers,
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.modelgen synthetic", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--size-mib", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.size_mib <= 0:
        parser.error("--size-mib must be positive")
    make(args.size_mib, args.out, args.seed)
    total = sum(f.stat().st_size for f in args.out.glob("*.npy")) / 2**20
    print(f"synthetic model: {total:.1f} MiB of weights -> {args.out}")
    return 0
