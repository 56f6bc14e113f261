"""What the user hands over: a trained model file, and the sample rows the check runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

XGBOOST_FILES = (".json", ".ubj")  # what xgboost's save_model writes
LIGHTGBM_FILES = (".txt",)  # what LightGBM's Booster.save_model writes


class InputFileError(Exception):
    """A model or rows file that cannot be used; the message names the file and why."""


class LightGbmBooster:
    """A bare LightGBM Booster with the estimator methods the check calls.

    LightGBM's scikit-learn classes cannot be rebuilt from a Booster, so the Booster is
    converted as it is (onnxmltools reads its objective) and this answers predict and
    predict_proba the way the converted graph does: labels are class indices.
    """

    def __init__(self, booster: Any) -> None:
        # The converter's own reading of the objective, so the check and the graph agree.
        from onnxmltools.convert.lightgbm._parse import WrappedBooster

        try:
            wrapped = WrappedBooster(booster)
        except NotImplementedError as exc:
            raise InputFileError(f"LightGBM model: {exc}") from None
        if wrapped.operator_name not in ("LgbmClassifier", "LgbmRegressor"):
            raise InputFileError(f"LightGBM objective {wrapped.objective_!r}: not converted here")
        self.booster = booster
        self.is_classifier = wrapped.operator_name == "LgbmClassifier"
        self.classes_ = getattr(wrapped, "classes_", None)
        self.n_features_in_ = int(booster.num_feature())

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.booster.predict(rows))
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if not self.is_classifier:
            return np.asarray(self.booster.predict(rows))
        assert self.classes_ is not None
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(rows), axis=1)]


def load_model(path: Path) -> Any:
    """The model in `path`: a pickle or joblib file, or XGBoost's or LightGBM's own format.

    Unpickling runs code from the file: load only files you trust.
    """
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    if path.suffix in XGBOOST_FILES:
        return _xgboost_file(path)
    if path.suffix in LIGHTGBM_FILES:
        return _lightgbm_file(path)
    import joblib

    try:
        model = joblib.load(path)  # reads plain pickles too
    except Exception as exc:  # a file that is no pickle fails in any of a dozen ways
        if isinstance(exc, ImportError):
            raise InputFileError(f"{path}: needs a module this venv lacks ({exc})") from None
        raise InputFileError(
            f"{path}: not a pickle or joblib file of a model ({type(exc).__name__}: {exc})"
        ) from None
    return _as_estimator(model, path)


def _as_estimator(model: Any, path: Path) -> Any:
    kind = type(model).__module__.split(".")[0] + "." + type(model).__name__
    if kind == "xgboost.Booster":
        return _xgboost_estimator(model, path)
    if kind == "lightgbm.Booster":
        return LightGbmBooster(model)
    if not callable(getattr(model, "predict", None)):
        raise InputFileError(f"{path}: holds a {kind}, not a model with predict()")
    return model


def _xgboost_file(path: Path) -> Any:
    import xgboost

    try:
        booster = xgboost.Booster(model_file=str(path))
    except xgboost.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputFileError(f"{path}: not an XGBoost model file ({first})") from None
    return _xgboost_estimator(booster, path)


def _xgboost_estimator(booster: Any, path: Path) -> Any:
    """The Booster behind XGBoost's scikit-learn class for its objective (skl2onnx's route)."""
    import xgboost

    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective.startswith(("binary:", "multi:")):
        estimator: Any = xgboost.XGBClassifier()
    elif objective.startswith("reg:"):
        estimator = xgboost.XGBRegressor()
    else:
        raise InputFileError(f"{path}: XGBoost objective {objective!r} is not converted here")
    estimator.load_model(bytearray(booster.save_raw("json")))
    return estimator


def _lightgbm_file(path: Path) -> LightGbmBooster:
    import lightgbm

    try:
        booster = lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputFileError(f"{path}: not a LightGBM model file ({first})") from None
    return LightGbmBooster(booster)


def load_rows(path: Path) -> np.ndarray:
    """Sample rows, one per line: a 2-D numeric `.npy`, or a `.csv` (a header line is skipped)."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    if path.suffix == ".npy":
        try:
            rows = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputFileError(f"{path}: not a numeric .npy array ({exc})") from None
    elif path.suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise InputFileError(f"{path}: rows come as .npy or .csv, not {path.suffix or 'no suffix'}")
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    if rows.ndim != 2 or not rows.size or not np.issubdtype(rows.dtype, np.number):
        raise InputFileError(
            f"{path}: needs a 2-D numeric array (rows x columns), got {rows.dtype} {rows.shape}"
        )
    return rows.astype(np.float64)


def _csv_rows(path: Path) -> np.ndarray:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if lines and not _numeric(lines[0]):
        lines = lines[1:]  # a header of column names
    if not lines:
        raise InputFileError(f"{path}: no rows")
    try:
        return np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise InputFileError(f"{path}: {exc}") from None


def _numeric(line: str) -> bool:
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return False
    return True


def draw_rows(count: int, width: int, seed: int = 0) -> np.ndarray:
    """Standard-normal rows: a shape check only where real rows are not at hand."""
    return np.random.default_rng(seed).standard_normal((count, width))
