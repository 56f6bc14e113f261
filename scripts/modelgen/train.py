"""Train the embedded default model: an MLP on scikit-learn's bundled digits (no download).

Writes the artifact (model.json + .npy weights, README "Your own model") and the
held-out rows the load tests and accuracy checks send. Fixed seed; skips the work when the
artifact already holds this exact recipe, so setup can call it every time.

    python -m scripts.modelgen train [--out models/default] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scikit-learn is imported only when training
    from sklearn.neural_network import MLPClassifier

REPO = Path(__file__).resolve().parents[2]
# Wide enough that one row costs about a millisecond on one core (CPU-bound, not a toy),
# and batching turns GEMVs into a GEMM worth several times less per row.
RECIPE: dict[str, Any] = {
    "hidden_layer_sizes": [1536, 1536, 1536],
    "activation": "relu",
    "solver": "adam",
    "max_iter": 60,
    "batch_size": 128,
    "random_state": 0,
    "test_size": 0.2,
    "split_seed": 0,
}
PIXEL_MAX = 16.0  # digits pixels are 0..16; the scale is folded into the first layer


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split(
        x.astype(np.float32),
        y,
        test_size=RECIPE["test_size"],
        random_state=RECIPE["split_seed"],
        stratify=y,
    )


def train(x_train: np.ndarray, y_train: np.ndarray) -> MLPClassifier:
    from sklearn.neural_network import MLPClassifier

    params = {k: v for k, v in RECIPE.items() if k not in ("test_size", "split_seed")}
    params["hidden_layer_sizes"] = tuple(RECIPE["hidden_layer_sizes"])
    clf = MLPClassifier(**params, early_stopping=True, n_iter_no_change=8, tol=1e-5)
    return clf.fit(x_train / PIXEL_MAX, y_train)


def write_artifact(clf: MLPClassifier, out: Path, accuracy: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    layers = []
    last = len(clf.coefs_) - 1
    for i, (weight, bias) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        weight = weight.astype(np.float32)
        if i == 0:
            weight = weight / np.float32(PIXEL_MAX)  # the model takes raw 0..16 pixels
        np.save(out / f"layer{i}_weight.npy", np.ascontiguousarray(weight))
        np.save(out / f"layer{i}_bias.npy", bias.astype(np.float32))
        layers.append(
            {
                "weight": f"layer{i}_weight.npy",
                "bias": f"layer{i}_bias.npy",
                "activation": "softmax" if i == last else "relu",
            }
        )
    meta = {
        "name": "digits-mlp",
        "version": recipe_hash(),
        "input_dim": int(clf.coefs_[0].shape[0]),
        "labels": [str(c) for c in clf.classes_],
        "layers": layers,
        "training": {
            "recipe": RECIPE,
            "holdout_accuracy": round(accuracy, 4),
            "epochs": int(clf.n_iter_),
        },
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_holdout(path: Path, x_test: np.ndarray, y_test: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [[int(v) for v in row] for row in x_test]
    path.write_text(json.dumps({"inputs": rows, "labels": [str(v) for v in y_test]}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.modelgen train", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=REPO / "models" / "default")
    parser.add_argument(
        "--holdout", type=Path, default=REPO / "loadtests" / "data" / "digits_holdout.json"
    )
    parser.add_argument("--force", action="store_true", help="retrain even if up to date")
    args = parser.parse_args(argv)

    x_train, x_test, y_train, y_test = split()
    write_holdout(args.holdout, x_test, y_test)
    meta_path = args.out / "model.json"
    current = json.loads(meta_path.read_text()).get("version") if meta_path.exists() else None
    if not args.force and current == recipe_hash():
        print(f"default model up to date: {args.out}")
        return 0
    started = time.perf_counter()
    clf = train(x_train, y_train)
    accuracy = float(clf.score(x_test / PIXEL_MAX, y_test))
    write_artifact(clf, args.out, accuracy)
    print(
        f"trained {RECIPE['hidden_layer_sizes']} in {time.perf_counter() - started:.0f} s,"
        f" {clf.n_iter_} epochs, held-out accuracy {accuracy:.4f} -> {args.out}"
    )
    return 0
