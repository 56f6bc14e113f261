"""Joining requests into one model call and splitting its result, for both kinds of model.

A rows model's batch is one array; a tensor model's is a tuple of arrays (one per input, or
per output), all with the same rows on their first axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rows_of(batch: Any) -> int:
    return len(batch) if isinstance(batch, np.ndarray) else len(batch[0])


def join(batches: list[Any]) -> Any:
    if isinstance(batches[0], np.ndarray):
        return np.concatenate(batches)
    return tuple(np.concatenate(parts) for parts in zip(*batches, strict=True))


def take(outputs: Any, start: int, stop: int) -> Any:
    if isinstance(outputs, np.ndarray):
        return outputs[start:stop]
    return tuple(output[start:stop] for output in outputs)


def checked(outputs: Any, rows: int) -> Any:
    """The model's result, or RuntimeError when it does not answer one row per row."""
    if isinstance(outputs, tuple):
        arrays = tuple(np.asarray(output) for output in outputs)
        wrong = [a.shape[:1] for a in arrays if a.ndim == 0 or a.shape[0] != rows]
        if wrong:
            raise RuntimeError(f"model returned outputs of {wrong} rows for {rows}")
        return arrays
    array = np.asarray(outputs)
    if array.ndim == 0 or array.shape[0] != rows:
        raise RuntimeError(f"model returned {array.shape[:1]} rows for {rows}")
    return array
