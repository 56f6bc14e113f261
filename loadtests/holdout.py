"""Held-out digits the model never trained on (written by `python -m scripts.modelgen train`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("data") / "digits_holdout.json"


@dataclass(frozen=True)
class Holdout:
    inputs: list[list[float]]
    labels: list[str]

    def batch(self, start: int, rows: int) -> tuple[list[list[float]], list[str]]:
        """`rows` consecutive samples from `start`, wrapping around the end."""
        picks = [(start + i) % len(self.inputs) for i in range(rows)]
        return [self.inputs[i] for i in picks], [self.labels[i] for i in picks]


def load(path: Path = DEFAULT_PATH) -> Holdout:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: run `python -m scripts.modelgen train` first"
        ) from None
    inputs, labels = doc.get("inputs"), doc.get("labels")
    if not isinstance(inputs, list) or not isinstance(labels, list) or not inputs:
        raise ValueError(f"{path}: expected non-empty 'inputs' and 'labels' lists")
    if len(inputs) != len(labels):
        raise ValueError(f"{path}: {len(inputs)} inputs but {len(labels)} labels")
    width = len(inputs[0])
    for i, row in enumerate(inputs):
        if len(row) != width or not all(math.isfinite(x) for x in row):
            raise ValueError(f"{path}: input {i} is not {width} finite numbers")
    return Holdout(inputs=inputs, labels=[str(x) for x in labels])
