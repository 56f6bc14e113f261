"""Four small example models, fitted the same way wherever they are needed (the tests that
serve exported models, `python -m scripts.bench onnx-serving`): an estimator, its ONNX input
specs and the data it is fitted on, from datasets scikit-learn ships (fixed seeds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scripts.convert.export import InputSpec, single_input

SEED = 0
Example = tuple[Any, list[InputSpec], np.ndarray, np.ndarray]  # estimator, inputs, X, y


def logistic() -> Example:
    """StandardScaler + LogisticRegression on the digits (FP32 [n, 64]): label, probabilities."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    return model, single_input(x.shape[1]), x, y


def forest() -> Example:
    """RandomForestClassifier on breast cancer (FP32 [n, 30]): label, probabilities."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=SEED)
    return model, single_input(x.shape[1]), x, y


def ridge() -> Example:
    """Ridge on diabetes (FP32 [n, 10]): one output, variable FP32 [n, 1]."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    return Ridge(alpha=0.1), single_input(x.shape[1]), x, y


def two_inputs() -> Example:
    """`measurements` FP32 [n, 4] (iris) and `codes` INT64 [n, 2] (categories 0..2), scaled and
    one-hot encoded by a ColumnTransformer into a LogisticRegression: label, probabilities."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    measurements, y = load_iris(return_X_y=True)
    codes = np.random.default_rng(SEED).integers(0, 3, size=(len(y), 2))
    columns = ColumnTransformer(
        [("scaled", StandardScaler(), [0, 1, 2, 3]), ("onehot", OneHotEncoder(), [4, 5])]
    )
    model = make_pipeline(columns, LogisticRegression(max_iter=300))
    inputs = [InputSpec("measurements", "float32", 4), InputSpec("codes", "int64", 2)]
    return model, inputs, np.hstack([measurements, codes]), y


EXAMPLES: dict[str, Callable[[], Example]] = {
    "logistic": logistic,
    "forest": forest,
    "ridge": ridge,
    "two-inputs": two_inputs,
}


def fitted(name: str) -> Example:
    """The example fitted. One BLAS thread: on fits this small more threads only contend (10x
    slower on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    model, inputs, x, y = EXAMPLES[name]()
    with threadpool_limits(1):
        model.fit(x, y)
    return model, inputs, x, y


def sample(x: np.ndarray, rows: int) -> np.ndarray:
    """`rows` rows of `x`, the same ones every time."""
    return x[np.random.default_rng(SEED).permutation(len(x))[:rows]]
